"""Ranking: from the hybrid query's rows (memories.search.hybrid) to one ordered list of exchanges.

The formula, in one place (docs/retrieval.md explains it in words and points here):

    relevance  = w_dense * z(cosine) + w_keyword * z(BM25)
    rank_score = relevance
               + w_priority * (priority - normal)
               + w_speaker * [a turn of a multi-speaker transcript said by someone the query names]
               + w_time    * [created inside the time the query names ("last month", "on 9 November")]
               + w_recency * 0.5^(age_days / recency_half_life)      (no named time, not a "when ..." question)
               + w_current * 0.5^(age_days / current_half_life)      (same, and the query asks "... now?")

z(x) is x in standard deviations above its mean over all of the user's chunks that match the filters. A chunk
whose vector is not written yet has no dense term. Several chunks of one exchange (a prompt and the answer
saved with it, or one long memory) count once, with the best chunk's scores. A turn of a multi-speaker
transcript is one whose speaker label ("Caroline: ...") opens at least two candidates of the pool
(``transcript_turns``).

The order (the answer's ``rank``, 1 = first) is, over the whole candidate pool and never depending on top_k:

1. pinned memories whose cosine reaches the pin threshold (``min_score`` when the client gives one, else
   CONTEXT_PIN_MIN_SCORE), by rank_score; then every other candidate by rank_score;
2. within the first ``newer_first_window`` places, a newer memory that matches about as well (cosine within
   ``supersede_margin``) moves above an older one (``newer_first``), except for "when ..." questions, a named
   time, multi-speaker transcripts and above a pin;
3. for a question about the present (not "when ...", "before", "used to" or a named time), a memory that a later
   one replaces (``Memory.superseded_by``, memories.supersession; followed to the latest) has that later one put
   right above it, and moves ``superseded_demote`` places further down (``successors_first``);
4. when no standing preference is among the first ``standing_position`` places, the closest one is put at that
   place (default call only; never a turn of a multi-speaker transcript, ``transcript_turns``);
5. in a transcript of several speakers ("Caroline: ..."), the answers (the next turn, by another speaker) to
   the question turns among the first ``answers_after`` places come right after those places
   (``answers_after_questions``; the first places do not change).

``top_k`` then takes the first k: the answer for k is always the first k of the answer for any K >= k.
``score`` in the answer is the raw cosine similarity (an absolute scale, the same for every person);
``min_score`` keeps only candidates with cosine >= it and replaces the abstention rule.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

from memories.models import Kind, Priority
from memories.search.hybrid import HybridRow
from memories.search.query import (
    Window,
    asks_before,
    asks_current,
    asks_when,
    code_tokens,
    is_personal,
    names,
    speaker,
    time_window,
)

# Stops dividing by (almost) zero when a user's chunks all score alike, e.g. a single memory.
_MIN_STD = 1e-6


@dataclass(frozen=True)
class Weights:
    """Every number of the ranking, read once from settings (config/settings/base.py, CONTEXT_*)."""

    dense: float
    keyword: float
    priority: float
    time_match: float
    speaker: float
    recency: float
    recency_half_life_days: float
    current: float
    current_half_life_days: float
    supersede_margin: float
    newer_first_window: int
    superseded_demote: int
    pin_min_cosine: float
    standing_min_cosine: float
    standing_position: int
    min_cosine_personal: float
    min_cosine_general: float
    min_cosine_result: float
    answers_after: int = 5

    @classmethod
    def from_settings(cls) -> Weights:
        return cls(
            dense=settings.CONTEXT_DENSE_WEIGHT,
            keyword=settings.CONTEXT_KEYWORD_WEIGHT,
            priority=settings.CONTEXT_PRIORITY_WEIGHT,
            time_match=settings.CONTEXT_TIME_MATCH_WEIGHT,
            speaker=settings.CONTEXT_SPEAKER_WEIGHT,
            recency=settings.CONTEXT_RECENCY_WEIGHT,
            recency_half_life_days=settings.CONTEXT_RECENCY_HALF_LIFE_DAYS,
            current=settings.CONTEXT_CURRENT_WEIGHT,
            current_half_life_days=settings.CONTEXT_CURRENT_HALF_LIFE_DAYS,
            supersede_margin=settings.CONTEXT_SUPERSEDE_MARGIN,
            newer_first_window=settings.CONTEXT_NEWER_FIRST_WINDOW,
            superseded_demote=settings.CONTEXT_SUPERSEDED_DEMOTE,
            pin_min_cosine=settings.CONTEXT_PIN_MIN_SCORE,
            standing_min_cosine=settings.CONTEXT_STANDING_MIN_COSINE,
            standing_position=settings.CONTEXT_STANDING_POSITION,
            min_cosine_personal=settings.CONTEXT_MIN_COSINE_PERSONAL,
            min_cosine_general=settings.CONTEXT_MIN_COSINE_GENERAL,
            min_cosine_result=settings.CONTEXT_MIN_COSINE_RESULT,
            answers_after=settings.CONTEXT_ANSWERS_AFTER,
        )


@dataclass(frozen=True)
class Signals:
    """What the query says about itself (memories.search.query), read once per query."""

    now: datetime
    window: Window | None
    asks_when: bool
    asks_current: bool
    codes: tuple[str, ...]
    asks_before: bool = False
    names: tuple[str, ...] = ()

    @classmethod
    def of(cls, query: str, now: datetime) -> Signals:
        codes = tuple(code.lower() for code in code_tokens(query))
        window = time_window(query, now)
        return cls(now, window, asks_when(query), asks_current(query), codes, asks_before(query), names(query))

    @property
    def about_present(self) -> bool:
        """Not a question about an earlier version of something: the latest version is the answer."""
        return not (self.asks_when or self.asks_before or self.window is not None)


@dataclass
class Candidate:
    """One chunk as ranked: its row, its two scores, and the evidence the abstention rule reads."""

    row: HybridRow
    relevance: float
    rank_score: float
    cosine: float
    code_match: bool
    # Stored, matched by keywords, its vector not written yet (the queue's worker is on it): kept as evidence
    # like an exact code match, so a memory is found right after its save.
    pending: bool
    pinned: bool
    standing: bool
    first: bool = field(default=False)  # a pin that clears the threshold: ordered above everything else
    transcript: bool = field(default=False)  # a turn of a multi-speaker transcript (``transcript_turns``)

    @property
    def memory_id(self) -> int:
        return self.row.memory_id

    @property
    def created_at(self) -> datetime:
        return self.row.created_at

    @property
    def text(self) -> str:
        return self.row.text


def _half_life(created_at: datetime, now: datetime, half_life_days: float) -> float:
    age_days = max((now - created_at).total_seconds(), 0.0) / 86400
    return float(0.5 ** (age_days / half_life_days))


def relevance(row: HybridRow, w: Weights) -> float:
    """w_dense * z(cosine) + w_keyword * z(BM25); no dense term without a vector, no keyword term when no
    chunk of the user matched a query word."""
    dense = 0.0 if row.cosine is None else w.dense * (row.cosine - row.cos_mean) / max(row.cos_std, _MIN_STD)
    keyword = w.keyword * (row.bm25 - row.kw_mean) / max(row.kw_std, _MIN_STD) if row.kw_std else 0.0
    return float(dense + keyword)


def rank_score(row: HybridRow, rel: float, signals: Signals, w: Weights) -> float:
    score = rel + w.priority * (row.priority - Priority.NORMAL)
    if signals.window is not None:
        if signals.window.start <= row.created_at < signals.window.end:
            score += w.time_match
    elif not signals.asks_when:
        score += w.recency * _half_life(row.created_at, signals.now, w.recency_half_life_days)
        if signals.asks_current:
            score += w.current * _half_life(row.created_at, signals.now, w.current_half_life_days)
    return score


def candidate(row: HybridRow, signals: Signals, w: Weights) -> Candidate:
    rel = relevance(row, w)
    lowered = row.chunk_text.lower()
    return Candidate(
        row=row,
        relevance=rel,
        rank_score=rank_score(row, rel, signals, w),
        cosine=float(row.cosine or 0.0),
        code_match=any(code in lowered for code in signals.codes),
        pending=row.cosine is None and row.bm25 > 0,
        pinned=bool(row.pinned),
        standing=bool(row.standing),
    )


def _normalized(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def _exchange_key(c: Candidate) -> tuple[str, str | int]:
    """One exchange = a prompt saved by /save-prompt and the answer saved with that same prompt by
    /save-response; both would otherwise show the same question twice in one answer."""
    if c.row.kind == Kind.PROMPT:
        return ("exchange", _normalized(c.row.text))
    if c.row.prompt:
        return ("exchange", _normalized(c.row.prompt))
    return ("memory", c.row.memory_id)


def _key(c: Candidate) -> tuple[float, float, int]:
    """rank_score first; ties broken by cosine, then by memory id (newest saved first), so the order is total."""
    return (-c.rank_score, -c.cosine, -c.row.memory_id)


def merge(candidates: list[Candidate]) -> list[Candidate]:
    """Best chunk per exchange; when both its prompt and its answer matched, the answer stands for it
    (its context string carries the prompt too), with the exchange's best scores."""
    best: dict[tuple[str, str | int], Candidate] = {}
    for cand in sorted(candidates, key=_key):
        key = _exchange_key(cand)
        kept = best.get(key)
        if kept is None:
            best[key] = cand
            continue
        kept.cosine = cand.cosine = max(kept.cosine, cand.cosine)
        kept.code_match = cand.code_match = kept.code_match or cand.code_match
        kept.pending = cand.pending = kept.pending or cand.pending
        if kept.row.kind == Kind.PROMPT and cand.row.kind == Kind.RESPONSE:
            cand.relevance, cand.rank_score = kept.relevance, kept.rank_score
            cand.pinned = cand.pinned or kept.pinned
            cand.standing = cand.standing or kept.standing
            best[key] = cand
    return sorted(best.values(), key=_key)


def transcript_turns(candidates: list[Candidate], signals: Signals, w: Weights) -> list[Candidate]:
    """Turns of a conversation between several people (an imported dialogue: "Caroline: I went to ..."): the
    turns whose speaker label opens at least two candidates of the pool (a conversation's speakers speak many
    times; a one-off "Context: I'm the founder of ..." is still the person's own words). Two things follow:

    - a question that names a speaker is about what that speaker said ("What did Caroline make?" and
      "Caroline: I made a bowl"): their turns get ``w.speaker`` added to ``rank_score``;
    - a standing preference is the person's own instruction to the assistant ("from now on keep it short"); a
      turn that reads like one ("Melanie: I always paint on Sundays") tells an event: it is not offered as one,
      nor kept below the floor as one.
    """
    said = [(c, speaker(c.text)) for c in candidates]
    labels = Counter(label for _, label in said if label is not None)
    for c, said_by in said:
        if said_by is None or labels[said_by] < 2:
            continue
        c.transcript = True
        c.standing = False
        if any(name in said_by.split() for name in signals.names):
            c.rank_score += w.speaker
    return candidates


def answerable(candidates: list[Candidate], query: str, w: Weights) -> bool:
    """Abstention: does anything clear the absolute floor for this kind of query? (docs/retrieval.md, "Abstention")

    The floor is on raw cosine similarity, which means the same thing for every person and every history,
    unlike the z-scores used for ordering. A prompt about the person ("my accountant", "what did you
    suggest") presupposes a memory and gets the lower floor; a general question needs a closer match. An exact
    match on a code-like token (an order number, a ticket id) is evidence on its own, and so is a keyword match
    on a chunk the worker has not embedded yet.
    """
    personal = is_personal(query) or _names_known(names(query), candidates)
    floor = w.min_cosine_personal if personal else w.min_cosine_general
    return any(c.cosine >= floor or c.code_match or c.pending for c in candidates)


def _names_known(found: tuple[str, ...], candidates: list[Candidate]) -> bool:
    """A name from the query that speaks in the person's memories (a saved or imported conversation's
    "Caroline: I went to ...") makes the query about their life, like "my" does. Place names do not count:
    "Osaka" in a baker's history does not make the history of Osaka Castle personal."""
    if not found:
        return False
    speakers = {label for c in candidates if (label := speaker(c.text)) is not None}
    return any(name in speakers or any(name in s.split() for s in speakers) for name in found)


def order(
    candidates: list[Candidate], signals: Signals, w: Weights, *, pin_threshold: float, standing: bool
) -> list[Candidate]:
    """The whole pool in answer order, steps 1-4 of the module docstring (step 5 needs each question turn's next
    turn from the database: ``answers_after_questions``, called by context.ranked_candidates); callers take a
    prefix."""
    for c in candidates:
        c.first = c.pinned and c.cosine >= pin_threshold
    ranked = sorted(candidates, key=lambda c: (not c.first, *_key(c)))
    ranked = newer_first(ranked, signals, w)
    ranked = successors_first(ranked, signals, w)
    place = w.standing_position - 1
    if standing and len(ranked) > place and not any(c.standing for c in ranked[: place + 1]):
        # A standing preference applies to related tasks that never mention it ("make me a bar chart" and
        # "always use a colour-blind-safe palette"): the closest one takes that place.
        offered = [c for c in ranked[place + 1 :] if c.standing and c.cosine >= w.standing_min_cosine]
        if offered:
            best = max(offered, key=lambda c: c.cosine)
            ranked.remove(best)
            firsts = sum(1 for c in ranked if c.first)
            ranked.insert(max(place, firsts), best)
    return ranked


def question_turns(ranked: list[Candidate], w: Weights) -> list[Candidate]:
    """The transcript turns among the first ``answers_after`` places that ask something ("Melanie: What does
    it mean to you?"): their answers are the next turns (``answers_after_questions``)."""
    return [c for c in ranked[: w.answers_after] if c.transcript and "?" in c.text]


def answers_after_questions(ranked: list[Candidate], next_of: dict[int, int], w: Weights) -> list[Candidate]:
    """Step 5: in a transcript of several speakers, the answer to a question is the next turn, by another
    speaker, and it rarely repeats the question's words. The first ``answers_after`` places stay the best
    matches; right after them come the answers (in the pool) to the question turns among them, in their order,
    then the rest. ``next_of`` maps a memory to the one saved right after it (hybrid.next_turns)."""
    head, rest = ranked[: w.answers_after], ranked[w.answers_after :]
    by_id = {c.memory_id: c for c in rest}
    answers: dict[int, Candidate] = {}
    for question in question_turns(ranked, w):
        answer = by_id.get(next_of.get(question.memory_id, 0))
        if answer is not None and answer.transcript and speaker(answer.text) != speaker(question.text):
            answers.setdefault(answer.memory_id, answer)
    return head + list(answers.values()) + [c for c in rest if c.memory_id not in answers]


def _successor_key(c: Candidate) -> tuple[str, str | int] | None:
    if c.row.superseded_by is None:
        return None
    if c.row.successor_said:
        return ("exchange", _normalized(c.row.successor_said))
    return ("memory", c.row.superseded_by)


def successors_first(ranked: list[Candidate], signals: Signals, w: Weights) -> list[Candidate]:
    """Step 3: for a question about the present, the later versions of a replaced memory go right above it (the
    latest first), and the replaced one ``superseded_demote`` places further down. Both stay in the answer's
    pool: a replaced exchange often holds other facts that still hold."""
    if not signals.about_present or not any(c.row.superseded_by for c in ranked):
        return ranked
    by_key = {_exchange_key(c): c for c in ranked}
    out = list(ranked)
    for old in ranked:
        later: list[Candidate] = []  # every later version in the pool, newest first
        seen = {_exchange_key(old)}
        latest = old
        while (key := _successor_key(latest)) is not None and key in by_key and key not in seen:
            latest = by_key[key]
            later.insert(0, latest)
            seen.add(key)
        if not later:
            continue
        at = out.index(old)
        for newer in later:
            if out.index(newer) > at and not (old.first and not newer.first):
                out.remove(newer)
                out.insert(at, newer)
            at = out.index(old)
        if w.superseded_demote:
            out.remove(old)
            out.insert(min(at + w.superseded_demote, len(out)), old)
    return out


def newer_first(ranked: list[Candidate], signals: Signals, w: Weights) -> list[Candidate]:
    """Newer facts win: within the first ``newer_first_window`` places, a later memory that matches the query
    about as well as an earlier one (within ``supersede_margin`` of cosine) goes above it, as "we moved to
    Utrecht" must come before "we live in Toronto". Not for "when did ..." or a named time, which ask about the
    old version too, and only between the person's own words: a transcript of several speakers ("Caroline:
    ...", as an imported LoCoMo dialogue) tells events, not one person's current facts."""
    if signals.asks_when or signals.window is not None:
        return ranked
    window = min(w.newer_first_window, len(ranked))
    out = list(ranked)

    def supersedes(newer: Candidate, older: Candidate) -> bool:
        return (
            newer.created_at > older.created_at
            and newer.cosine >= older.cosine - w.supersede_margin
            and not (older.first and not newer.first)
            and not (older.pinned and not newer.pinned)
            and not newer.transcript
            and not older.transcript
        )

    for i in range(1, window):
        j = i
        while j > 0 and supersedes(out[j], out[j - 1]):
            out[j - 1], out[j] = out[j], out[j - 1]
            j -= 1
    return out
