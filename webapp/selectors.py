"""Reads for the person's own page: their activity per day, a page of their memories, and the /context preview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, Sum

from accounts.models import Space, User, preferences_of
from dashboard.models import UserActivity
from dashboard.selectors import last_days
from memories import selectors as memory_selectors
from memories.models import Memory
from memories.search import context

MEMORIES_PER_PAGE = 20


@dataclass(frozen=True)
class Activity:
    """One value per UTC day, oldest first: memories saved (by their date) and successful /context calls."""

    days: list[date]
    saves: list[int]
    context_calls: list[int]


def activity_per_day(*, user: User, days: int = 30) -> Activity:
    span = last_days(days)
    start = datetime.combine(span[0], time.min, tzinfo=UTC)
    saved = dict(
        Memory.objects.filter(user=user, created_at__gte=start)
        .values_list("created_at__date")
        .annotate(n=Count("id"))
        .values_list("created_at__date", "n")
    )
    called = dict(
        UserActivity.objects.filter(user=user, day__gte=span[0])
        .values_list("day")
        .annotate(n=Sum("context_calls"))
        .values_list("day", "n")
    )
    return Activity(
        days=span,
        saves=[saved.get(day, 0) for day in span],
        context_calls=[called.get(day) or 0 for day in span],
    )


def memory_page(*, user: User, space: Space | None, filters: dict[str, Any], page: str | None) -> Page:
    """One page (MEMORIES_PER_PAGE, newest first) of ``user``'s memories in ``space`` (None: every space) matching
    ``filters``
    (memories.selectors.memory_list's keywords). A page number out of range or not a number gives the nearest
    page: after deleting the last memory of the last page, the person lands on the page before it."""
    memories = memory_selectors.memory_list(user=user, space=space, **filters)
    # "replaces ..." and "replaced by ..." on each memory (memories.supersession) without a query per memory
    memories = memories.select_related("superseded_by").prefetch_related("supersedes")
    found = Paginator(memories, MEMORIES_PER_PAGE).get_page(page)
    found.object_list = list(found.object_list)  # read here, where the caller chose the database (replica_read)
    return found


@dataclass(frozen=True)
class Preview:
    prompt: str
    contexts: list[str]
    context_off: bool = False  # the person turned context off: /context adds nothing, whatever is stored


def context_preview(*, user: User, prompt: str, space: Space | None) -> Preview:
    """What ``GET /context/{user_id}?query=<prompt>`` would inject in ``space`` (None: the default space) with every
    other parameter left at its default."""
    if not preferences_of(user).context:
        return Preview(prompt=prompt, contexts=[], context_off=True)
    filters = context.ContextFilters(space_id=space.pk if space is not None else None)
    results = context.context_search(user=user, query=prompt, top_k=settings.CONTEXT_TOP_K_DEFAULT, filters=filters)
    return Preview(prompt=prompt, contexts=[result.text for result in results])


# (substring of the User-Agent, name) in the order they must be tried: Edge and Opera also say "Chrome", Chrome
# also says "Safari", and Android also says "Linux".
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome/", "Chrome (headless)"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def device_of(user_agent: str) -> str:
    """A person's words for a browser's User-Agent: "Firefox on Windows", or "An unknown browser"."""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), "")
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or (f"A browser on {system}" if system else "An unknown browser")
