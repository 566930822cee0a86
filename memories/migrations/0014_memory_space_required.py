import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Every memory, idempotency key and import is in a space from now on; uniqueness is per space."""

    dependencies = [("memories", "0013_memory_space_backfill")]

    operations = [
        migrations.AlterField(
            model_name="memory",
            name="space",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="memories", to="accounts.space"
            ),
        ),
        migrations.AlterField(
            model_name="idempotencykey",
            name="space",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.space"),
        ),
        migrations.AlterField(
            model_name="importjob",
            name="space",
            field=models.ForeignKey(
                help_text="Imported into this space.",
                on_delete=django.db.models.deletion.CASCADE,
                related_name="import_jobs",
                to="accounts.space",
            ),
        ),
        migrations.RemoveConstraint(model_name="memory", name="memory_user_hash_uniq"),
        migrations.AddConstraint(
            model_name="memory",
            constraint=models.UniqueConstraint(fields=("space", "content_hash"), name="memory_space_hash_uniq"),
        ),
        migrations.RemoveConstraint(model_name="idempotencykey", name="idempotency_user_key_uniq"),
        migrations.AddConstraint(
            model_name="idempotencykey",
            constraint=models.UniqueConstraint(fields=("space", "key"), name="idempotency_space_key_uniq"),
        ),
        migrations.AddIndex(
            model_name="memory",
            index=models.Index(fields=["space", "-created_at"], name="memory_space_created_idx"),
        ),
    ]
