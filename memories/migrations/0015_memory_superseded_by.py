import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("memories", "0014_memory_space_required"),
    ]

    operations = [
        migrations.AddField(
            model_name="memory",
            name="superseded_by",
            field=models.ForeignKey(
                blank=True,
                help_text="A later memory of the same person that restates this one with a new value (moved city, "
                "new price, new job): found by the embedding worker (memories.supersession), undone by the person "
                "on /app/.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="supersedes",
                to="memories.memory",
            ),
        ),
    ]
