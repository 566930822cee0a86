"""More ways people state a standing preference ("pls no tables in your answers", "stop giving me Illustrator
instructions", "a thing to remember: I eat halal"; memories.search.query.STANDING_PATTERN): memories saved
before are flagged too. Only ever sets the flag (the pattern grew; nothing that matched before stops matching),
so reversing is a no-op."""

from django.db import migrations

# A frozen copy of memories.search.query.STANDING_PATTERN as it was when this migration was written.
STANDING_PATTERN = (
    r"\m(from now on|from now,? (when|whenever)|going forward|in general|for future reference|ground rule|rule for"
    r"|every time|always|never|whenever you|i prefer|i'd prefer|i would prefer|i'd rather"
    r"|((please|pls|plz) )?(don't|do not) (ever )?(use|put|give|write|suggest|include|add|recommend)"
    r"|(please|pls|plz) no \w+"
    r"|(in|for) (your|all|future|all your) (answers|replies|responses)"
    r"|stop (giving|using|sending|suggesting|recommending|writing|adding)"
    r"|(thing|things|something) to (remember|keep in mind)|remember that i"
    r"|i'm (a |an )?(vegetarian|vegan|pescatarian|lactose[- ]intolerant|allergic|gluten[- ]free|coeliac|celiac"
    r"|halal|kosher)"
    r"|i (only )?eat (halal|kosher|vegan|vegetarian)"
    r"|i (only|don't|do not|can't|cannot) (eat|drink|use|write|read)"
    r"|keep (it|answers|your answers|things) (short|brief))\M"
)


class Migration(migrations.Migration):
    dependencies = [("memories", "0016_citus_keys")]

    operations = [
        migrations.RunSQL(
            [
                (
                    "UPDATE memories_memory SET standing = true WHERE NOT standing AND "
                    "(CASE WHEN kind = 'prompt' THEN text ELSE prompt END) ~* %s",
                    [STANDING_PATTERN],
                )
            ],
            migrations.RunSQL.noop,
        ),
    ]
