import django.db.models.deletion
import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models

# Every person who exists already gets their "Personal" space (the default), in one statement; every token they
# made holds it, so tokens made before spaces keep working exactly as before (docs/spaces.md).
PERSONAL = """
INSERT INTO accounts_space (user_id, name, is_default, created_at)
SELECT u.id, 'Personal', true, now() FROM accounts_user u
WHERE NOT EXISTS (SELECT 1 FROM accounts_space s WHERE s.user_id = u.id AND s.is_default)
"""
TOKEN_SPACES = """
INSERT INTO accounts_personalaccesstoken_spaces (personalaccesstoken_id, space_id)
SELECT t.id, s.id FROM accounts_personalaccesstoken t JOIN accounts_space s ON s.user_id = t.user_id AND s.is_default
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_websession_accountdeletion"),
    ]

    operations = [
        migrations.CreateModel(
            name="Space",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=60)),
                ("is_default", models.BooleanField(default=False)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="spaces",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["created_at", "id"],
                "constraints": [
                    models.UniqueConstraint(
                        django.db.models.functions.text.Lower("name"), models.F("user"), name="space_user_name_uniq"
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("is_default", True)), fields=("user",), name="space_user_default_uniq"
                    ),
                ],
            },
        ),
        migrations.AddField(
            model_name="personalaccesstoken",
            name="spaces",
            field=models.ManyToManyField(blank=True, related_name="access_tokens", to="accounts.space"),
        ),
        migrations.RunSQL([PERSONAL, TOKEN_SPACES], migrations.RunSQL.noop),
    ]
