"""Supersession found from the text alone: does a new memory restate an earlier one with a new value?

A person says "we live in Toronto", then months later "we got the keys to our flat in Utrecht": the second
restates the first with a new value. The embedding job (memories.tasks.embed_pending, or an inline save) asks,
for each prompt it has just written a vector for, which earlier prompt of the same person it restates, and links the two
(``Memory.superseded_by``, services.memory_supersede_link). No model is asked: the evidence is

- the two prompts' cosine similarity (the same MiniLM vectors the search uses),
- a change cue in the new one ("now", "switched", "moved", "instead", "no longer", "change of plan", ...),
- names both mention (the topic they share: "Tenma", "Kitano Seifun", "Chapel Allerton"),
- values the new one states that the old one did not (numbers, amounts, names).

Two ways pass (``rules``): a close restatement with one new value, or a looser one with several new values.

The thresholds (SUPERSEDE_*) were chosen on the chat set's tuning people (docs/retrieval.md, "Supersession").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet

from accounts.models import User
from core.exceptions import NotFound
from memories.models import Kind, Memory
from memories.search.query import speaker

# A change of state, said the way people say it in chat.
_CUE = re.compile(
    r"\b(now|moved|moving|switched|switching|changed?|change of plans?|instead|no longer|not any ?more|anymore|"
    r"new|update|updated|decision made|decided|didn'?t work out|is off|fell through|cancell?ed|bought|"
    r"signed|started|starting|got the|took me off|put me on|went with|didn'?t go with|deferred|pushed?|"
    r"replac\w*|upgraded|hired|left|quit|accepted|from this month|from now)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"[£$€¥]?\d[\d,.]*(?:\s?(?:k|m|%|mg|kg|km|yen|am|pm))?\b", re.IGNORECASE)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-zA-Z'\u2019-]+(?:\s+[A-Z][a-zA-Z'\u2019-]+)*)")
# Capitalised words that are not names of things that change.
_NOT_NAMES = frozenset(
    [
        "I",
        "I'm",
        "I've",
        "I'd",
        "I'll",
        "OK",
        "Ok",
        "Can",
        "Could",
        "What",
        "How",
        "Is",
        "Are",
        "Do",
        "Does",
        "Should",
        "Would",
        "Will",
        "Any",
        "My",
        "We",
        "Our",
        "The",
        "This",
        "That",
        "It",
        "Its",
        "Also",
        "And",
        "But",
        "So",
        "Quick",
        "Question",
        "Thanks",
        "Please",
        "Yes",
        "No",
        "Hi",
        "Hey",
        "Update",
        "News",
        "Big",
        "Good",
        "Bad",
        "Okay",
        "Decision",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
)


def names(text: str) -> set[str]:
    found: set[str] = set()
    for match in _NAME.finditer(text):
        words = [w for w in match.group(1).split() if w not in _NOT_NAMES]
        found.update(words)
    return found


def values(text: str) -> set[str]:
    """The numbers and names ``text`` states, normalised ("7,800" and "7800" are one value)."""
    numbers = {m.group(0).replace(",", "").lower().strip() for m in _NUMBER.finditer(text)}
    return numbers | {n.lower() for n in names(text)}


@dataclass(frozen=True)
class Evidence:
    cosine: float
    cue: bool
    shared_names: int
    new_values: int


def evidence(*, old: str, new: str, cosine: float) -> Evidence:
    return Evidence(
        cosine=cosine,
        cue=bool(_CUE.search(new)),
        shared_names=len({n.lower() for n in names(old)} & {n.lower() for n in names(new)}),
        new_values=len(values(new) - values(old)),
    )


@dataclass(frozen=True)
class Rule:
    """One way a new prompt restates an old one, besides the change cue every way needs."""

    min_cosine: float
    min_shared: int  # names both mention
    min_new_values: int  # values the new one states that the old one did not


def rules() -> tuple[Rule, ...]:
    """The two ways (thresholds from settings, chosen on the chat set's tuning people): a close restatement with
    one new value ("the loaf is 7 euros now"), or a looser one that states several new values (a move with its
    new city, street and date)."""
    return (
        Rule(settings.SUPERSEDE_CLOSE_MIN_COSINE, settings.SUPERSEDE_CLOSE_MIN_SHARED_NAMES, 1),
        Rule(settings.SUPERSEDE_MIN_COSINE, settings.SUPERSEDE_MIN_SHARED_NAMES, settings.SUPERSEDE_MIN_NEW_VALUES),
    )


def restates(ev: Evidence, ways: Sequence[Rule]) -> bool:
    """Said as a change, and passing one of ``ways``."""
    return ev.cue and any(
        ev.cosine >= way.min_cosine and ev.shared_names >= way.min_shared and ev.new_values >= way.min_new_values
        for way in ways
    )


# For each new prompt, the earlier prompts of the same person and their best chunk-to-chunk cosine. Only users
# below SEARCH_HNSW_MIN_USER_CHUNKS chunks: the pairwise scan grows with the person's history.
_PAIRS_SQL = """
SELECT n.id, n.user_id, n.text, o.id, o.text, max(1 - (oc.embedding <=> nc.embedding))::float8 AS cosine
FROM memories_memory n
JOIN memories_chunk nc ON nc.memory_id = n.id AND nc.embedding IS NOT NULL
JOIN memories_chunk oc ON oc.user_id = n.user_id AND oc.embedding IS NOT NULL
JOIN memories_memory o ON o.id = oc.memory_id
WHERE n.id = ANY(%(ids)s) AND n.kind = 'prompt' AND o.kind = 'prompt' AND o.created_at < n.created_at
  AND o.space_id = n.space_id AND o.superseded_by_id IS NULL
  AND (SELECT count(*) FROM memories_chunk WHERE user_id = n.user_id) < %(full_scan_max)s
GROUP BY n.id, n.user_id, n.text, o.id, o.text
HAVING max(1 - (oc.embedding <=> nc.embedding)) >= %(min_cosine)s
ORDER BY n.id, cosine DESC
"""


def supersessions_find(*, memory_ids: Sequence[int]) -> list[tuple[int, int]]:
    """(earlier prompt, new prompt) pairs among ``memory_ids``' prompts: each new prompt restates at most one
    earlier prompt of the same person (the closest that passes ``restates``)."""
    if not memory_ids:
        return []
    ways = rules()
    with connection.cursor() as cursor:
        cursor.execute(
            _PAIRS_SQL,
            {
                "ids": list(memory_ids),
                "min_cosine": min(way.min_cosine for way in ways),
                "full_scan_max": settings.SEARCH_HNSW_MIN_USER_CHUNKS,
            },
        )
        rows = cursor.fetchall()
    found: dict[int, int] = {}
    turns = _TranscriptTurns()
    for new_id, user_id, new_text, old_id, old_text, cosine in rows:
        if new_id in found or not restates(evidence(old=old_text, new=new_text, cosine=cosine), ways):
            continue
        # A transcript of several speakers ("Caroline: ...", an imported dialogue) tells events, not one person's
        # current facts: as "newer facts first", supersession is only between the person's own words.
        if not turns.said_in_one(user_id, new_text) and not turns.said_in_one(user_id, old_text):
            found[new_id] = old_id
    return [(old, new) for new, old in found.items()]


class _TranscriptTurns:
    """Is a text a turn of a transcript? Its label ("Caroline: ...") opens at least two of the person's memories: a
    transcript's speakers speak many times, while a prompt that happens to open with "Update:" or "News:" is the
    person's own words (the rule ``ranking.transcript_turns`` applies to a query's candidates). Asked only of
    pairs that pass the rules; one query per person and label."""

    def __init__(self) -> None:
        self._known: dict[tuple[Any, str], bool] = {}

    def said_in_one(self, user_id: Any, text: str) -> bool:
        label = speaker(text)
        if label is None:
            return False
        key = (user_id, label)
        if key not in self._known:
            opened = Memory.objects.filter(user_id=user_id, text__startswith=f"{label}:")[:2].count()
            self._known[key] = opened >= 2
        return self._known[key]


def supersessions_detect(*, memory_ids: Sequence[int]) -> int:
    """The embedding worker's step after writing vectors: link every restatement found; how many links."""
    pairs = supersessions_find(memory_ids=memory_ids)
    for old_id, new_id in pairs:
        old = Memory.objects.get(pk=old_id)  # found among the same person's memories of the same space
        memory_supersede_link(user_id=old.user_id, old_id=old_id, new_id=new_id)
    return len(pairs)


def _exchange(memory: Memory) -> QuerySet[Memory]:
    """The memory and the other half of its exchange (the answer saved with this prompt, or this answer's
    prompt): both stand for one thing the person said."""
    said = memory.text if memory.kind == Kind.PROMPT else memory.prompt
    same = Q(pk=memory.pk)
    if said:
        same |= Q(kind=Kind.RESPONSE, prompt=said) | Q(kind=Kind.PROMPT, text=said)
    return Memory.objects.filter(user_id=memory.user_id, space_id=memory.space_id).filter(same)


@transaction.atomic
def memory_supersede_link(*, user_id: Any, old_id: int, new_id: int) -> int:
    """``new_id`` replaces ``old_id`` (both ``user_id``'s; the new one later): the old memory and the answer
    saved with it are marked ``superseded_by`` the new one. Returns how many memories were marked."""
    old = Memory.objects.filter(user_id=user_id, pk=old_id).first()
    new = Memory.objects.filter(user_id=user_id, pk=new_id).first()
    if old is None or new is None:
        raise NotFound("Memory not found")
    if old.pk == new.pk or new.created_at < old.created_at:
        raise ValueError("a memory is replaced by a later one")
    if old.space_id != new.space_id:
        raise ValueError("a memory is replaced only by one of the same space")
    return _exchange(old).exclude(pk=new.pk).update(superseded_by=new)


@transaction.atomic
def memory_supersede_unlink(*, user: User, memory_id: int) -> int:
    """The person says a link is wrong: ``memory_id`` (theirs) no longer replaces anything and is no longer
    replaced. Returns how many links were removed; another person's memory is not found."""
    memory = Memory.objects.filter(user=user, pk=memory_id).first()
    if memory is None:
        raise NotFound("Memory not found")
    replaced = Memory.objects.filter(user=user, superseded_by__in=_exchange(memory).values("pk"))
    removed = replaced.update(superseded_by=None)
    return removed + _exchange(memory).exclude(superseded_by=None).update(superseded_by=None)
