"""Which tables belong to one person (distributed by person on Citus) and which are shared (docs/scale.md).

The one list the statement-capture test (config/tests/test_tenancy.py) and docs/scale.md follow. A per-person table
maps to the column that names the person: every hot-path statement touching it must compare that column with the
person (a single-shard query on Citus). Reference tables are small and shared (replicated to every node); lookup
tables are found by a secret or a name before the person is known (kept on the coordinator).
"""

from __future__ import annotations

# table -> the column naming the person (the distribution column on Citus)
PER_PERSON_TABLES: dict[str, str] = {
    "accounts_user": "id",
    "accounts_space": "user_id",
    "accounts_appconnection": "user_id",
    "accounts_dailyusage": "user_id",
    "accounts_preferences": "user_id",
    "accounts_websession": "user_id",
    "memories_memory": "user_id",
    "memories_chunk": "user_id",
    "memories_idempotencykey": "user_id",
    "memories_importjob": "user_id",
    "dashboard_useractivity": "user_id",
}

# Shared, small, read everywhere: Citus reference tables.
REFERENCE_TABLES: frozenset[str] = frozenset(
    {"extension_api_adapteroverride", "django_content_type", "auth_permission", "django_site"}
)

# Looked up by a secret before the person is known (authentication), or the queue's own: stay on the coordinator.
COORDINATOR_TABLES: frozenset[str] = frozenset(
    {
        "accounts_personalaccesstoken",  # by token hash
        "accounts_personalaccesstoken_spaces",  # with its token (no user_id yet: docs/scale.md)
        "accounts_appconnection_spaces",
        "django_session",  # by session key
        "procrastinate_jobs",
        "procrastinate_events",
        "procrastinate_periodic_defers",
        "dashboard_requestmetric",  # aggregate counts, not a person's data
        "extension_api_capturehealth",
        "memories_searchindexsnapshot",
        "memories_searchindexsnapshotpart",
        "memories_reembedrun",
        "memories_importuploadpart",  # by job id: the next schema step gives it user_id (docs/scale.md)
        "accounts_accountdeletion",
    }
)
