from django.db import migrations, models

# Saves have always checked for the same text under a per-user lock, so duplicates should not exist; any that
# slipped in (a save path older than that lock) are merged into the oldest copy before the constraint is added.
DUPLICATES = """
SELECT m.id FROM memories_memory m JOIN memories_memory older
  ON m.user_id = older.user_id AND m.content_hash = older.content_hash AND m.id > older.id
"""
DEDUPLICATE = [
    f"DELETE FROM memories_chunk WHERE memory_id IN ({DUPLICATES})",  # noqa: S608 (constant SQL)
    f"DELETE FROM memories_memory WHERE id IN ({DUPLICATES})",  # noqa: S608
]


class Migration(migrations.Migration):
    dependencies = [("memories", "0005_search_index_snapshot")]

    operations = [
        migrations.RunSQL(DEDUPLICATE, migrations.RunSQL.noop),
        migrations.RemoveIndex(model_name="memory", name="memory_user_hash_idx"),
        migrations.AddConstraint(
            model_name="memory",
            constraint=models.UniqueConstraint(fields=("user", "content_hash"), name="memory_user_hash_uniq"),
        ),
    ]
