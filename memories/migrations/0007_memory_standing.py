from django.db import migrations, models

# A frozen copy of memories.search.query.STANDING_PATTERN as it was when this migration was written.
STANDING_PATTERN = (
    r"\m(from now on|going forward|in general|for future reference|ground rule|rule for|every time"
    r"|always|never|whenever you|i prefer|i'd prefer|i would prefer|i'd rather"
    r"|(please )?(don't|do not) (ever )?(use|put|give|write|suggest|include|add|recommend)"
    r"|i'm (a |an )?(vegetarian|vegan|pescatarian|lactose[- ]intolerant|allergic|gluten[- ]free|coeliac|celiac)"
    r"|i (only|don't|do not|can't|cannot) (eat|drink|use|write|read)"
    r"|keep (it|answers|your answers|things) (short|brief))\M"
)


class Migration(migrations.Migration):
    dependencies = [("memories", "0006_memory_user_hash_unique")]

    operations = [
        migrations.AddField(
            model_name="memory",
            name="standing",
            field=models.BooleanField(
                default=False,
                help_text="States a standing instruction or preference (\"from now on keep it short\", \"I'm "
                "vegetarian\"): offered for later related tasks that do not mention it.",
            ),
        ),
        migrations.RunSQL(
            [
                (
                    "UPDATE memories_memory SET standing = "
                    "(CASE WHEN kind = 'prompt' THEN text ELSE prompt END) ~* %s",
                    [STANDING_PATTERN],
                )
            ],
            migrations.RunSQL.noop,
        ),
    ]
