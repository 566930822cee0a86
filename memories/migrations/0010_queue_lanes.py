"""Jobs queued before the live and bulk lanes (docs/queue.md) move to them, so the new worker still runs them."""

from django.db import migrations

FORWARD = """
UPDATE procrastinate_jobs SET queue_name = 'live', priority = 100
WHERE queue_name = 'embeddings' AND task_name = 'memories.embed_pending' AND status = 'todo';
UPDATE procrastinate_jobs SET queue_name = 'bulk', priority = -10, lock = 'bulk'
WHERE queue_name = 'embeddings' AND task_name = 'memories.reembed' AND status = 'todo';
UPDATE procrastinate_jobs SET queue_name = 'bulk', priority = 0, lock = 'bulk'
WHERE queue_name = 'imports' AND status = 'todo';
"""

BACKWARD = """
UPDATE procrastinate_jobs SET queue_name = 'embeddings', priority = 0, lock = NULL
WHERE queue_name = 'live' OR task_name = 'memories.reembed' AND status = 'todo';
UPDATE procrastinate_jobs SET queue_name = 'imports', priority = 0, lock = NULL
WHERE task_name = 'memories.import_history' AND status = 'todo';
"""


class Migration(migrations.Migration):
    dependencies = [
        ("memories", "0009_import_jobs"),
        ("procrastinate", "0041_post_retry_failed_job"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
