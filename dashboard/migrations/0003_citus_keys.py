"""Keys Citus can distribute by person (docs/scale.md): a person's daily activity row gets (user_id, id) as its
primary key; its unique constraint (day, user) names the person already."""

from django.db import migrations

from core.person_keys import person_keys

KEYS, KEYS_REVERSE = person_keys(["dashboard_useractivity"], [])


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0002_useractivity_context_calls"),
    ]

    operations = [migrations.RunSQL(KEYS, reverse_sql=KEYS_REVERSE)]
