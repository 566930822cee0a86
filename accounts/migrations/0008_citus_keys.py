"""Keys Citus can distribute by person (docs/scale.md): the token/app-connection <-> space link tables become
explicit models carrying the person (backfilled from their token or connection), and every per-person table of
accounts but ``accounts_space`` gets ``(user_id, id)`` as its primary key and the person in its unique
constraints. ``accounts_space``'s own key changes in memories 0016, once memories' one-column keys to it are gone.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.person_keys import person_keys

BACKFILL = """
UPDATE accounts_personalaccesstoken_spaces l SET user_id = t.user_id
FROM accounts_personalaccesstoken t WHERE t.id = l.personalaccesstoken_id AND l.user_id IS NULL;
UPDATE accounts_appconnection_spaces l SET user_id = c.user_id
FROM accounts_appconnection c WHERE c.id = l.appconnection_id AND l.user_id IS NULL;
"""

KEYS, KEYS_REVERSE = person_keys(
    [
        "accounts_appconnection",
        "accounts_dailyusage",
        "accounts_websession",
        "accounts_personalaccesstoken_spaces",
        "accounts_appconnection_spaces",
    ],
    [("accounts_appconnection_spaces", "appconnection_id", "accounts_appconnection")],
    without_id_index=frozenset({"accounts_personalaccesstoken_spaces", "accounts_appconnection_spaces"}),
)


def _link(name: str, owner: str, owner_model: str, table: str) -> migrations.CreateModel:
    """The link table Django made for the ManyToManyField, as it is in the database today."""
    return migrations.CreateModel(
        name=name,
        fields=[
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            (owner, models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to=owner_model)),
            (
                "space",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="token_links" if owner == "personalaccesstoken" else "connection_links",
                    to="accounts.space",
                ),
            ),
        ],
        options={"db_table": table, "unique_together": {(owner, "space")}},
    )


def _user(model_name: str, *, null: bool) -> dict:
    field = models.ForeignKey(
        null=null, on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
    )
    return {"model_name": model_name, "name": "user", "field": field}


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_appconnection"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The ManyToManyFields get a `through` model for the table they already have: state only.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                _link(
                    "AccessTokenSpace",
                    "personalaccesstoken",
                    "accounts.personalaccesstoken",
                    "accounts_personalaccesstoken_spaces",
                ),
                _link("AppConnectionSpace", "appconnection", "accounts.appconnection", "accounts_appconnection_spaces"),
                migrations.AlterField(
                    model_name="personalaccesstoken",
                    name="spaces",
                    field=models.ManyToManyField(
                        blank=True,
                        related_name="access_tokens",
                        through="accounts.AccessTokenSpace",
                        to="accounts.space",
                    ),
                ),
                migrations.AlterField(
                    model_name="appconnection",
                    name="spaces",
                    field=models.ManyToManyField(
                        blank=True,
                        related_name="app_connections",
                        through="accounts.AppConnectionSpace",
                        to="accounts.space",
                    ),
                ),
            ],
        ),
        migrations.AddField(**_user("accesstokenspace", null=True)),
        migrations.AddField(**_user("appconnectionspace", null=True)),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(**_user("accesstokenspace", null=False)),
        migrations.AlterField(**_user("appconnectionspace", null=False)),
        # Keys between per-person tables name the person: Django's one-column constraints go (KEYS adds them back)
        migrations.AlterField(
            model_name="accesstokenspace",
            name="space",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="token_links",
                to="accounts.space",
            ),
        ),
        migrations.AlterField(
            model_name="appconnectionspace",
            name="space",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="connection_links",
                to="accounts.space",
            ),
        ),
        migrations.AlterField(
            model_name="appconnectionspace",
            name="appconnection",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.appconnection",
            ),
        ),
        # The person first in every unique constraint.
        migrations.AlterUniqueTogether(name="accesstokenspace", unique_together=set()),
        migrations.AlterUniqueTogether(name="appconnectionspace", unique_together=set()),
        migrations.AddConstraint(
            model_name="accesstokenspace",
            constraint=models.UniqueConstraint(
                fields=("user", "personalaccesstoken", "space"), name="pat_space_user_uniq"
            ),
        ),
        migrations.AddConstraint(
            model_name="appconnectionspace",
            constraint=models.UniqueConstraint(
                fields=("user", "appconnection", "space"), name="appconnection_space_user_uniq"
            ),
        ),
        migrations.RemoveConstraint(model_name="websession", name="websession_key_uniq"),
        migrations.AddConstraint(
            model_name="websession",
            constraint=models.UniqueConstraint(fields=("user", "session_key"), name="websession_user_key_uniq"),
        ),
        migrations.RunSQL(KEYS, reverse_sql=KEYS_REVERSE),
    ]
