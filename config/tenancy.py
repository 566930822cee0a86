"""Which tables belong to one person (distributed by person on Citus) and which are shared (docs/scale.md).

The one list the tests (config/tests/test_tenancy.py: every hot-path statement names the person;
config/tests/test_citus_schema.py: the keys in the database's catalog) and docs/scale.md follow. Every table of the
database is in exactly one of the three lists.

- A per-person table maps to the column that names the person (the distribution column on Citus). Its primary key
  and every unique constraint include that column, and its keys to other per-person tables include it on both
  sides; every hot-path statement touching it compares that column with the person (a single-shard query).
- Reference tables are small and shared (replicated to every node).
- Coordinator tables are found by a secret or a name before the person is known (authentication), or are the
  queue's own, or aggregates across people: they stay on the coordinator as ordinary tables.
"""

from __future__ import annotations

# table -> the column naming the person (the distribution column on Citus), in the order they are distributed
PER_PERSON_TABLES: dict[str, str] = {
    "accounts_space": "user_id",
    "accounts_appconnection": "user_id",
    "accounts_appconnection_spaces": "user_id",
    "accounts_personalaccesstoken_spaces": "user_id",  # a token's spaces, beside the spaces (the token: coordinator)
    "accounts_dailyusage": "user_id",
    "accounts_preferences": "user_id",
    "accounts_websession": "user_id",
    "memories_memory": "user_id",
    "memories_chunk": "user_id",
    "memories_idempotencykey": "user_id",
    "memories_importjob": "user_id",
    "memories_importuploadpart": "user_id",
    "dashboard_useractivity": "user_id",
}

# Shared, small, read everywhere: Citus reference tables. The people themselves are one: a username is unique
# across everyone (one place must see them all, at sign-up and sign-in), every per-person table's key to its person
# stays a real foreign key (distributed -> reference), and writes to it (sign-up, last_login) are rare next to
# saves (docs/scale.md).
REFERENCE_TABLES: frozenset[str] = frozenset(
    {
        "accounts_user",
        "extension_api_adapteroverride",
        "django_content_type",
        "auth_permission",
        "auth_group",
        "auth_group_permissions",
    }
)

# Looked up by a secret before the person is known (authentication), or the queue's own, or aggregates across
# people: stay on the coordinator.
COORDINATOR_TABLES: frozenset[str] = frozenset(
    {
        "accounts_personalaccesstoken",  # by token hash, on every request that presents one
        "django_session",  # by session key
        "oauth2_provider_accesstoken",  # by token checksum
        "oauth2_provider_refreshtoken",
        "oauth2_provider_grant",  # by authorization code
        "oauth2_provider_idtoken",
        "oauth2_provider_devicegrant",
        "oauth2_provider_application",  # by client id (an app is not one person's)
        "token_blacklist_outstandingtoken",  # by JWT id
        "token_blacklist_blacklistedtoken",
        "account_emailaddress",  # by address, at sign-in and sign-up
        "account_emailconfirmation",  # by key
        "mfa_authenticator",  # read at sign-in with the user (rare; a per-person candidate later)
        "accounts_user_groups",  # Django's permissions (staff only)
        "accounts_user_user_permissions",
        "django_admin_log",  # staff's actions
        "django_migrations",
        "procrastinate_jobs",
        "procrastinate_events",
        "procrastinate_periodic_defers",
        "procrastinate_workers",
        "dashboard_requestmetric",  # aggregate counts, not a person's data
        "extension_api_capturehealth",
        "memories_searchindexsnapshot",
        "memories_searchindexsnapshotpart",
        "memories_reembedrun",
        "accounts_accountdeletion",
    }
)

# Foreign keys Citus cannot keep: between a distributed table and a coordinator (local) table, either way, or from
# a reference table to a distributed one. They are dropped just before distributing (docs/scale.md); Django's
# deletion walk, not the database, deletes the rows that point at a deleted one, so nothing changes for the app.
# (table, column): config/tests/test_citus_schema.py reads the catalog and fails on one missing here.
FOREIGN_KEYS_DROPPED_ON_CITUS: frozenset[tuple[str, str]] = frozenset(
    {
        # per-person -> coordinator: a token's spaces point at the token, a connection at its OAuth application
        ("accounts_personalaccesstoken_spaces", "personalaccesstoken_id"),
        ("accounts_appconnection", "application_id"),
    }
)
