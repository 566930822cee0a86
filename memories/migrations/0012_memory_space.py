import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """The space columns, nullable until 0013 fills them (a data change and a NOT NULL in one transaction would
    meet PostgreSQL's deferred foreign-key triggers)."""

    dependencies = [
        ("accounts", "0006_space"),
        ("memories", "0011_reembed_run"),
    ]

    operations = [
        migrations.AddField(
            model_name="memory",
            name="space",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="memories", to="accounts.space"
            ),
        ),
        migrations.AddField(
            model_name="memory",
            name="all_spaces",
            field=models.BooleanField(
                default=False,
                help_text="A standing preference the person shares with every space: offered in every space's "
                "context.",
            ),
        ),
        migrations.AddField(
            model_name="idempotencykey",
            name="space",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.space"
            ),
        ),
        migrations.AddField(
            model_name="importjob",
            name="space",
            field=models.ForeignKey(
                help_text="Imported into this space.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="import_jobs",
                to="accounts.space",
            ),
        ),
    ]
