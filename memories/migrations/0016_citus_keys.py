"""Keys Citus can distribute by person (docs/scale.md): every per-person table of memories (and accounts_space,
whose last one-column key from another table goes here) gets ``(user_id, id)`` as its primary key, the person in
front of every unique constraint, and keys to other per-person tables on ``(user_id, x_id)``. Import upload parts
get their job's owner (backfilled) and become per person.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.person_keys import person_keys

BACKFILL = """
UPDATE memories_importuploadpart p SET user_id = j.user_id
FROM memories_importjob j WHERE j.id = p.job_id AND p.user_id IS NULL
"""

KEYS, KEYS_REVERSE = person_keys(
    [
        "accounts_space",
        "memories_memory",
        "memories_chunk",
        "memories_idempotencykey",
        "memories_importjob",
        "memories_importuploadpart",
    ],
    [
        ("accounts_personalaccesstoken_spaces", "space_id", "accounts_space"),
        ("accounts_appconnection_spaces", "space_id", "accounts_space"),
        ("memories_memory", "space_id", "accounts_space"),
        ("memories_memory", "superseded_by_id", "memories_memory"),
        ("memories_chunk", "memory_id", "memories_memory"),
        ("memories_idempotencykey", "space_id", "accounts_space"),
        ("memories_importjob", "space_id", "accounts_space"),
        ("memories_importuploadpart", "job_id", "memories_importjob"),
    ],
    without_id_index=frozenset({"memories_importuploadpart"}),
)


def _user(*, null: bool) -> dict:
    field = models.ForeignKey(
        null=null, on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
    )
    return {"model_name": "importuploadpart", "name": "user", "field": field}


def _unique(model_name: str, fields: tuple[str, ...], name: str) -> migrations.AddConstraint:
    return migrations.AddConstraint(model_name=model_name, constraint=models.UniqueConstraint(fields=fields, name=name))


def _space(model_name: str, related_name: str, **extra: object) -> migrations.AlterField:
    field = models.ForeignKey(
        db_constraint=False,
        on_delete=django.db.models.deletion.CASCADE,
        related_name=related_name,
        to="accounts.space",
        **extra,
    )
    return migrations.AlterField(model_name=model_name, name="space", field=field)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_citus_keys"),
        ("memories", "0015_memory_superseded_by"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(**_user(null=True)),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(**_user(null=False)),
        # The person first in every unique constraint (Citus requires the distribution column in each).
        migrations.RemoveConstraint(model_name="memory", name="memory_space_hash_uniq"),
        _unique("memory", ("user", "space", "content_hash"), "memory_user_space_hash_uniq"),
        migrations.RemoveConstraint(model_name="chunk", name="chunk_memory_position_uniq"),
        _unique("chunk", ("user", "memory", "position"), "chunk_user_memory_position_uniq"),
        migrations.RemoveConstraint(model_name="idempotencykey", name="idempotency_space_key_uniq"),
        _unique("idempotencykey", ("user", "space", "key"), "idempotency_user_space_key_uniq"),
        migrations.RemoveConstraint(model_name="importuploadpart", name="import_part_position_uniq"),
        _unique("importuploadpart", ("user", "job", "position"), "import_part_user_position_uniq"),
        # Django's one-column keys between per-person tables go; KEYS adds them back with the person.
        _space("memory", "memories"),
        _space("idempotencykey", "+"),
        _space("importjob", "import_jobs", help_text="Imported into this space."),
        migrations.AlterField(
            model_name="memory",
            name="superseded_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="A later memory of the same person that restates this one with a new value (moved city, "
                "new price, new job): found by the embedding worker (memories.supersession), undone by the person "
                "on /app/.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="supersedes",
                to="memories.memory",
            ),
        ),
        migrations.AlterField(
            model_name="chunk",
            name="memory",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="chunks",
                to="memories.memory",
            ),
        ),
        migrations.AlterField(
            model_name="importuploadpart",
            name="job",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="parts",
                to="memories.importjob",
            ),
        ),
        migrations.RunSQL(KEYS, reverse_sql=KEYS_REVERSE),
    ]
