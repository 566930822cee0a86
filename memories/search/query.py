"""What a query says about itself before any memory is read: whether it is about the person, which exact codes
it names, and which stretch of time it points at. Pure functions of the text (and of when it is asked)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# The person speaking about themselves, their own past, or what the assistant told them: such a prompt
# presupposes a memory, so a lower similarity already counts as evidence (docs/retrieval.md, "Abstention").
_PERSONAL = re.compile(
    r"\b(i|i'm|i've|i'd|i'll|me|my|mine|myself|we|we're|we've|our|ours|us|ourselves)\b"
    r"|\byou (said|say|suggested|suggest|told|tell|recommended|recommend|gave|give|wrote|mentioned)\b"
    r"|\b(remind|again|last time|earlier|before|previous(ly)?)\b",
    re.IGNORECASE,
)
# Order numbers, ticket ids, part numbers: letters and digits that only an exact match finds.
_CODE = re.compile(r"\b(?=[\w-]*\d)[A-Za-z0-9][\w-]{2,}\b")
# A text that already names who said it, as an imported chat turn does ("Caroline: I went to ...").
SPEAKER_LABEL = re.compile(r"^[A-Z][\w.'-]{0,30}(?: [A-Z][\w.'-]{0,30}){0,2}:[ \t]+\S")
_WHEN = re.compile(r"^\s*(when|what (day|date|time|year|month)|how long ago)\b", re.IGNORECASE)

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
# Month names are only read after "in", "back in", "during" ...: "may" alone is a verb, "in May" is a month.
_NUMBER = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "a couple of": 2}
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
_AGO = re.compile(
    r"\b(\d+|a|an|one|two|three|four|five|six|a couple of)\s+(day|week|month|year)s?\s+ago\b", re.IGNORECASE
)
_LAST = re.compile(r"\b(last|this|past)\s+(week|month|year)\b", re.IGNORECASE)
_IN_MONTH = re.compile(
    r"\b(?:in|during|back in|early|mid|late|around|since)\s+(?:early\s+|mid-?\s*|late\s+)?("
    + "|".join(sorted(_MONTHS, key=len, reverse=True))
    + r")\b\.?(?:\s+(\d{4}))?",
    re.IGNORECASE,
)
# A day of a month, day first or month first ("on 9 November, 2022", "October 13, 2023", "on the 3rd of March"); a
# month name before the day must be capitalised ("May 3", not "may 3 people come").
_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)?"
_DAY_FIRST = re.compile(
    rf"\b{_ORDINAL}\s+(?:of\s+)?(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b\.?,?(?:\s+(\d{4}))?",
    re.IGNORECASE,
)
_MONTH_FIRST = re.compile(
    r"\b("
    + "|".join(sorted({m.capitalize() for m in _MONTHS}, key=len, reverse=True))
    + rf")\.?\s+{_ORDINAL}\b,?(?:\s+(\d{{4}}))?"
)
# A named day is a few days wide either side: people misremember the day, and a conversation saved in one
# sitting carries one time.
_DAY_SLACK = timedelta(days=3)
_IN_YEAR = re.compile(r"\b(?:in|during|back in)\s+(20\d\d|19\d\d)\b", re.IGNORECASE)
_YESTERDAY = re.compile(r"\byesterday\b", re.IGNORECASE)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}\b")
_NOT_NAMES = frozenset(calendar.day_name) | frozenset(calendar.month_name[1:]) | {"The", "What", "When", "How"}


def is_personal(query: str) -> bool:
    return bool(_PERSONAL.search(query))


def speaker(text: str) -> str | None:
    """Who says a turn that names its speaker ("Caroline: I went to ..." -> "Caroline"), else None."""
    return text.split(":", 1)[0] if SPEAKER_LABEL.match(text) else None


def names(query: str) -> tuple[str, ...]:
    """Capitalised words inside the query (not the first word): people and places the person may have named."""
    return tuple(n for n in _NAME.findall(query.strip()) if n not in _NOT_NAMES)


def code_tokens(query: str) -> list[str]:
    return [t for t in _CODE.findall(query) if not t.isdigit() or len(t) >= 3]


_CURRENT = re.compile(
    r"\b(now|currently|current|these days|at the moment|nowadays|any ?more|latest|still|today)\b", re.IGNORECASE
)


def asks_current(query: str) -> bool:
    """ "Where do we live now?" asks for the latest version of a fact: recency counts for much more."""
    return bool(_CURRENT.search(query))


_BEFORE = re.compile(
    r"\b(before|previously|used to|originally|at first|earlier|formerly|old|first said|back then)\b", re.IGNORECASE
)


def asks_before(query: str) -> bool:
    """ "What did I say before?", "where did we use to live": a question about an earlier version of a fact."""
    return bool(_BEFORE.search(query))


def asks_when(query: str) -> bool:
    """ "When did I …" asks for a date: every version of the fact matters, so recency must not decide."""
    return bool(_WHEN.search(query))


def time_window(query: str, now: datetime) -> Window | None:
    """The stretch of time a query points at ("on 9 November, 2022", "last month", "in March", "two weeks ago"),
    or None.

    Months without a year are the latest such month not after ``now``; windows are generous (a month, a week
    either side of "N weeks ago") because people's sense of time in chat is approximate.
    """
    now = now.astimezone(UTC)
    if day := _named_day(query, now):
        return Window(day - _DAY_SLACK, day + timedelta(days=1) + _DAY_SLACK)
    if match := _AGO.search(query):
        count = int(match[1]) if match[1].isdigit() else _NUMBER[match[1].lower()]
        days = count * _UNIT_DAYS[match[2].lower()]
        centre = now - timedelta(days=days)
        half = timedelta(days=max(3, days // 3))
        return Window(centre - half, centre + half)
    if match := _LAST.search(query):
        unit, which = match[2].lower(), match[1].lower()
        span = timedelta(days=_UNIT_DAYS[unit])
        if which == "this":
            return Window(now - span, now)
        if unit == "month":
            first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            previous = (first - timedelta(days=1)).replace(day=1)
            return Window(previous - timedelta(days=3), first + timedelta(days=3))
        return Window(now - 2 * span, now)
    if _YESTERDAY.search(query):
        return Window(now - timedelta(days=2), now)
    if match := _IN_MONTH.search(query):
        month = _MONTHS[match[1].lower().rstrip(".")]
        year = int(match[2]) if match[2] else (now.year if month <= now.month else now.year - 1)
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
        return Window(start - timedelta(days=3), end + timedelta(days=3))
    if match := _IN_YEAR.search(query):
        year = int(match[1])
        return Window(datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))
    return None


def _named_day(query: str, now: datetime) -> datetime | None:
    """The day a query names ("on 9 November, 2022", "October 13"), without a year the latest one not after now."""
    if match := _DAY_FIRST.search(query):
        day, month, year = match[1], match[2], match[3]
    elif match := _MONTH_FIRST.search(query):
        month, day, year = match[1], match[2], match[3]
    else:
        return None
    month_number = _MONTHS[month.lower()]
    try:
        named = datetime(int(year) if year else now.year, month_number, int(day), tzinfo=UTC)
        if not year and named > now:
            named = named.replace(year=now.year - 1)
    except ValueError:  # "31 February", "29 February" of a year without it
        return None
    return named


# A standing instruction or preference: said once, meant for every later answer ("from now on keep it short",
# "I'm vegetarian", "always give paces in km", "please don't use tables", "pls no tables in your answers", "stop
# giving me Illustrator instructions", "a thing to remember for any food stuff: I eat halal"). Matched on what
# the person wrote. Phrasings were added from the chat set's tuning people only (docs/retrieval.md); migration
# 0017 flags the memories saved before.
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
# The same pattern for Python's re (\m and \M are PostgreSQL's word boundaries).
_STANDING = re.compile(STANDING_PATTERN.replace(r"\m", r"\b").replace(r"\M", r"\b"), re.IGNORECASE)


def is_standing(text: str) -> bool:
    return bool(_STANDING.search(text))


def standing_sentence(text: str) -> str:
    """The sentence that states the standing instruction (the whole text when none can be cut out)."""
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        if _STANDING.search(sentence):
            return sentence.strip()
    return text.strip()
