from django.db import migrations

# Everything stored before spaces moves into its person's default space ("Personal", made by accounts 0006; made
# here too for anyone who signed up in between).
PERSONAL = """
INSERT INTO accounts_space (user_id, name, is_default, created_at)
SELECT u.id, 'Personal', true, now() FROM accounts_user u
WHERE NOT EXISTS (SELECT 1 FROM accounts_space s WHERE s.user_id = u.id AND s.is_default)
"""
BACKFILL = [
    PERSONAL,
    *(
        f"UPDATE {table} t SET space_id = s.id FROM accounts_space s "  # noqa: S608 (constant SQL)
        "WHERE s.user_id = t.user_id AND s.is_default AND t.space_id IS NULL"
        for table in ("memories_memory", "memories_idempotencykey", "memories_importjob")
    ),
]


class Migration(migrations.Migration):
    dependencies = [("memories", "0012_memory_space")]

    operations = [migrations.RunSQL(BACKFILL, migrations.RunSQL.noop)]
