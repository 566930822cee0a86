"""The per-user hybrid (dense + keyword) search behind /context: ``context_search`` is its one entry point.

Ranking, in one place (docs/retrieval.md explains it; docs/benchmarks.md has the measurements behind the weights):

    relevance = w_dense * z(cosine) + w_keyword * z(BM25)
    order     = relevance + w_priority * (priority - normal) + w_recency * 0.5^(age_days / half_life)

z(x) is x in standard deviations above the mean over all of the user's chunks (that match the filters), so
the two signals share a scale. ``score`` in the answer is ``relevance``; ``min_score`` filters on it; a pinned
memory whose relevance clears the pin threshold is always returned, taking the place of the lowest-ranked
unpinned one if needed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from core.timing import phase
from memories.embedding import embeddings
from memories.embedding.inputs import prompt_head
from memories.embedding.vectors import vector_literal
from memories.models import Kind, Priority
from memories.search.budget import pack, query_terms, whole_sentences
from memories.search.dense import dense_candidates, large_user
from memories.search.query import (
    Window,
    asks_current,
    asks_when,
    code_tokens,
    is_personal,
    names,
    standing_sentence,
    time_window,
)

# Rows fetched per wanted result, so that several chunks of one memory do not crowd others out.
OVERFETCH = 4
# Stops dividing by (almost) zero when a user's chunks all score alike, e.g. a single memory.
_MIN_STD = 1e-6
_WORD = re.compile(r"\w+")
# A prompt that already names who said it, as an imported chat turn does ("Caroline: I went to ...").
_SPEAKER_LABEL = re.compile(r"^[A-Z][\w.'-]{0,30}(?: [A-Z][\w.'-]{0,30}){0,2}: \S")


@dataclass(frozen=True)
class ContextFilters:
    provider: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_score: float | None = None


@dataclass(frozen=True)
class ContextResult:
    memory_id: int
    text: str
    score: float
    provider: str
    kind: str
    created_at: datetime
    priority: int
    pinned: bool = False
    rank_score: float = field(default=0.0, compare=False)


@dataclass
class _Candidate:
    chunk_text: str
    memory_id: int
    kind: str
    provider: str
    text: str
    prompt: str
    priority: int
    pinned: bool
    created_at: datetime
    relevance: float
    rank_score: float
    cosine: float = 0.0
    standing: bool = False
    code_match: bool = False
    # Stored, matched by keywords, its vector not written yet (the queue's worker is on it): kept as evidence
    # like an exact code match, so a memory is found right after its save.
    pending: bool = False


# Both halves read only the user's own chunks (``mine``); the z-score statistics are taken over the same set.
# The keyword half ORs the query's stemmed, stop-worded lexemes (plainto_tsquery would AND them, which finds
# nothing for most natural-language questions) and scores matches with BM25 computed from the tsvector:
# term frequency = number of positions, document length = number of distinct lexemes, IDF over the user's chunks.
_SEARCH_SQL = """
WITH mine AS MATERIALIZED (
    SELECT c.id, c.embedding <=> %(vector)s::vector AS distance, c.search_vector
    FROM memories_chunk c JOIN memories_memory m ON m.id = c.memory_id
    WHERE c.user_id = %(user_id)s {filters}
),
terms AS (SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', %(words)s))),
hits AS (
    SELECT mine.id, length(mine.search_vector) AS dl, t.lexeme,
           coalesce(array_length(t.positions, 1), 1) AS tf
    FROM mine, unnest(mine.search_vector) AS t(lexeme, positions, weights)
    WHERE mine.search_vector @@ websearch_to_tsquery('english', %(any_words)s)
      AND t.lexeme IN (SELECT lexeme FROM terms)
),
stats AS (
    SELECT count(*)::float8 AS n, greatest(avg(length(search_vector)), 1)::float8 AS avgdl,
           avg(1 - distance)::float8 AS cos_mean, coalesce(stddev_pop(1 - distance), 0)::float8 AS cos_std
    FROM mine
),
df AS (SELECT lexeme, count(*)::float8 AS df FROM hits GROUP BY lexeme),
keyword AS (
    SELECT h.id, sum(
        ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5))
        * h.tf * (%(k1)s + 1) / (h.tf + %(k1)s * (1 - %(b)s + %(b)s * h.dl / s.avgdl))
    )::float8 AS bm25
    FROM hits h JOIN df USING (lexeme) CROSS JOIN stats s
    GROUP BY h.id
),
kw_stats AS (
    SELECT coalesce(sum(bm25), 0) / greatest(s.n, 1) AS kw_mean,
           coalesce(sum(bm25 * bm25), 0) / greatest(s.n, 1) AS kw_sq
    FROM keyword CROSS JOIN stats s GROUP BY s.n
),
candidates AS (
    (SELECT id FROM mine WHERE distance IS NOT NULL ORDER BY distance LIMIT %(limit)s)
    UNION
    (SELECT id FROM keyword ORDER BY bm25 DESC LIMIT %(limit)s)
    UNION
    (SELECT c.id FROM memories_chunk c JOIN memories_memory m ON m.id = c.memory_id
     WHERE c.user_id = %(user_id)s AND (m.pinned OR m.standing) AND c.id IN (SELECT id FROM mine))
)
SELECT c.text, m.id, m.kind, m.provider, m.text, m.prompt, m.priority, m.pinned, m.created_at,
       1 - mine.distance, coalesce(k.bm25, 0), s.cos_mean, s.cos_std,
       coalesce(ks.kw_mean, 0), sqrt(greatest(coalesce(ks.kw_sq - ks.kw_mean * ks.kw_mean, 0), 0)), m.standing
FROM candidates
JOIN mine ON mine.id = candidates.id
JOIN memories_chunk c ON c.id = candidates.id
JOIN memories_memory m ON m.id = c.memory_id
LEFT JOIN keyword k ON k.id = candidates.id
CROSS JOIN stats s
LEFT JOIN kw_stats ks ON true
"""


def _query_words(query: str) -> tuple[str, str]:
    """The query's words, plain and joined with " or " (websearch_to_tsquery's OR, which never fails to parse)."""
    words = [w for w in _WORD.findall(query) if w.lower() != "or"]
    return " ".join(words), " or ".join(words)


# Each filter once: (ContextFilters attribute, Memory column, comparison). The SQL of the hybrid query and the ORM
# filter handed to the dense engines are both built from this table.
_FILTERS = (
    ("provider", "provider", "exact"),
    ("kind", "kind", "exact"),
    ("since", "created_at", "gte"),
    ("until", "created_at", "lte"),
)
_SQL_COMPARISON = {"exact": "=", "gte": ">=", "lte": "<="}


def _active(filters: ContextFilters) -> Iterator[tuple[str, str, str, Any]]:
    for name, column, comparison in _FILTERS:
        value = getattr(filters, name)
        if value is not None:
            yield name, column, comparison, value


def _filter_sql(filters: ContextFilters) -> tuple[str, dict[str, Any]]:
    active = list(_active(filters))
    sql = "".join(f" AND m.{column} {_SQL_COMPARISON[comparison]} %({name})s" for name, column, comparison, _ in active)
    return sql, {name: value for name, _, _, value in active}


def _filter_q(filters: ContextFilters) -> Q:
    q = Q()
    for _, column, comparison, value in _active(filters):
        q &= Q(**{f"memory__{column}__{comparison}": value})
    return q


def _fetch(*, user: User, query: str, filters: ContextFilters, limit: int) -> list[tuple[Any, ...]]:
    """The scored candidates, in one statement for a user below SEARCH_HNSW_MIN_USER_CHUNKS chunks.

    The full scan carries its own size guard (``mine`` is empty for a larger user), so the common case needs
    no separate count; only an empty answer is checked against the size, and a large user then takes the
    pooled path.
    """
    vector = embeddings.embed([query])[0]
    words, any_words = _query_words(query)
    filter_sql, params = _filter_sql(filters)
    params.update(
        vector=vector_literal(vector),
        user_id=user.pk,
        words=words,
        any_words=any_words,
        k1=settings.CONTEXT_BM25_K1,
        b=settings.CONTEXT_BM25_B,
        limit=limit,
        full_scan_max=settings.SEARCH_HNSW_MIN_USER_CHUNKS,
    )
    guard = " AND (SELECT count(*) FROM memories_chunk WHERE user_id = %(user_id)s) < %(full_scan_max)s"
    rows = _run(filter_sql + guard, params)
    if rows or not large_user(user):
        return rows
    # Scoring every chunk of a very large user costs a full scan per query. Instead the pool is the dense
    # engine's nearest chunks (FAISS or pgvector HNSW, memories.search.dense) plus the keyword matches (GIN index)
    # plus pinned memories; the z-score statistics are then taken over that pool.
    dense = dense_candidates(
        user=user,
        vector=vector,
        limit=max(limit, settings.CONTEXT_LARGE_USER_POOL),
        filters=_filter_q(filters),
        hnsw=True,  # large_user() was just checked: no second count
    )
    params["dense_ids"] = [chunk_id for chunk_id, _ in dense]
    filter_sql += (
        " AND (c.id = ANY(%(dense_ids)s) OR m.pinned OR m.standing"
        " OR c.search_vector @@ websearch_to_tsquery('english', %(any_words)s))"
    )
    return _run(filter_sql, params)


def _run(filter_sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with phase("search"), connection.cursor() as cursor:
        cursor.execute(_SEARCH_SQL.format(filters=filter_sql), params)
        return list(cursor.fetchall())


def _recency(created_at: datetime, now: datetime) -> float:
    age_days = max((now - created_at).total_seconds(), 0.0) / 86400
    return float(0.5 ** (age_days / settings.CONTEXT_RECENCY_HALF_LIFE_DAYS))


@dataclass(frozen=True)
class _Signals:
    """What the query says about itself (memories.search.query), read once per query."""

    now: datetime
    window: Window | None
    asks_when: bool
    asks_current: bool
    codes: tuple[str, ...]


def _signals(query: str, now: datetime) -> _Signals:
    codes = tuple(code.lower() for code in code_tokens(query))
    return _Signals(now, time_window(query, now), asks_when(query), asks_current(query), codes)


def _candidate(row: tuple[Any, ...], signals: _Signals) -> _Candidate:
    (chunk_text, memory_id, kind, provider, text, prompt, priority, pinned, created_at) = row[:9]
    # A chunk still waiting for its vector has no cosine (NULL): no dense evidence either way.
    pending = row[9] is None
    cosine, bm25, cos_mean, cos_std, kw_mean, kw_std = (float(x or 0) for x in row[9:15])
    standing = bool(row[15])
    relevance = 0.0 if pending else settings.CONTEXT_DENSE_WEIGHT * (cosine - cos_mean) / max(cos_std, _MIN_STD)
    relevance += settings.CONTEXT_KEYWORD_WEIGHT * (bm25 - kw_mean) / max(kw_std, _MIN_STD) if kw_std else 0.0
    rank_score = relevance + settings.CONTEXT_PRIORITY_WEIGHT * (priority - Priority.NORMAL)
    if signals.window is not None:
        # "last month", "in March": the memories of that time first, whatever their age.
        if signals.window.start <= created_at < signals.window.end:
            rank_score += settings.CONTEXT_TIME_MATCH_WEIGHT
    elif not signals.asks_when:
        # Newer statements of a fact win ("we moved to Utrecht" over "we live in Toronto"); "when did ..."
        # asks about every version, so there recency does not decide.
        rank_score += settings.CONTEXT_RECENCY_WEIGHT * _recency(created_at, signals.now)
        if signals.asks_current:
            # "... now?": the latest statement first, over months rather than weeks.
            age_days = max((signals.now - created_at).total_seconds(), 0.0) / 86400
            rank_score += settings.CONTEXT_CURRENT_WEIGHT * 0.5 ** (age_days / settings.CONTEXT_CURRENT_HALF_LIFE_DAYS)
    lowered = chunk_text.lower()
    code_match = any(code in lowered for code in signals.codes)
    return _Candidate(
        chunk_text,
        memory_id,
        kind,
        provider,
        text,
        prompt,
        priority,
        pinned,
        created_at,
        relevance,
        rank_score,
        cosine=cosine,
        standing=standing,
        code_match=code_match,
        pending=pending and bm25 > 0,
    )


def _normalized(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def _exchange_key(candidate: _Candidate) -> tuple[str, str | int]:
    """One exchange = a prompt saved by /save-prompt and the answer saved with that same prompt by
    /save-response; both would otherwise show the same question twice in one answer."""
    if candidate.kind == Kind.PROMPT:
        return ("exchange", _normalized(candidate.text))
    if candidate.prompt:
        return ("exchange", _normalized(candidate.prompt))
    return ("memory", candidate.memory_id)


def _merge(candidates: list[_Candidate]) -> list[_Candidate]:
    """Best chunk per exchange; when both its prompt and its answer matched, the answer stands for it
    (its context string carries the prompt too), at the better of the two scores."""
    best: dict[tuple[str, str | int], _Candidate] = {}
    for cand in sorted(candidates, key=lambda c: c.rank_score, reverse=True):
        key = _exchange_key(cand)
        kept = best.get(key)
        if kept is None:
            best[key] = cand
            continue
        # Whichever chunk stands for the exchange, it carries the exchange's best evidence.
        kept.cosine = cand.cosine = max(kept.cosine, cand.cosine)
        kept.code_match = cand.code_match = kept.code_match or cand.code_match
        kept.pending = cand.pending = kept.pending or cand.pending
        if kept.kind == Kind.PROMPT and cand.kind == Kind.RESPONSE:
            cand.relevance, cand.rank_score = kept.relevance, kept.rank_score
            cand.pinned = cand.pinned or kept.pinned
            cand.standing = cand.standing or kept.standing
            best[key] = cand
    return sorted(best.values(), key=lambda c: c.rank_score, reverse=True)


def _answerable(candidates: list[_Candidate], query: str) -> bool:
    """Abstention: does anything clear the absolute floor for this kind of query? (docs/retrieval.md, "Abstention")

    The floor is on raw cosine similarity, which means the same thing for every person and every history,
    unlike the z-scores used for ordering. A prompt about the person ("my accountant", "what did you
    suggest") presupposes a memory and gets the lower floor; a general question needs a closer match. An exact
    match on a code-like token (an order number, a ticket id) is evidence on its own, and so is a keyword match
    on a chunk the worker has not embedded yet.
    """
    personal = is_personal(query) or _names_known(names(query), candidates)
    floor = settings.CONTEXT_MIN_COSINE_PERSONAL if personal else settings.CONTEXT_MIN_COSINE_GENERAL
    return any(c.cosine >= floor or c.code_match or c.pending for c in candidates)


def _names_known(found: tuple[str, ...], candidates: list[_Candidate]) -> bool:
    """A name from the query that speaks in the person's memories (a saved or imported conversation's
    "Caroline: I went to ...") makes the query about their life, like "my" does. Place names do not count:
    "Osaka" in a baker's history does not make the history of Osaka Castle personal."""
    if not found:
        return False
    speakers = {c.text.split(":", 1)[0] for c in candidates if _SPEAKER_LABEL.match(c.text)}
    return any(name in speakers or any(name in s.split() for s in speakers) for name in found)


def _select(candidates: list[_Candidate], *, top_k: int, pin_threshold: float, standing: bool) -> list[_Candidate]:
    chosen = candidates[:top_k]
    for pinned in (c for c in candidates[top_k:] if c.pinned and c.cosine >= pin_threshold):
        unpinned = [i for i, c in enumerate(chosen) if not (c.pinned and c.cosine >= pin_threshold)]
        if not unpinned:
            break
        chosen[unpinned[-1]] = pinned
    if standing and top_k >= settings.CONTEXT_STANDING_MIN_TOP_K and chosen and not any(c.standing for c in chosen):
        # A standing preference applies to related tasks that never mention it ("make me a bar chart" and
        # "always use a colour-blind-safe palette"): the closest one takes the last unpinned place.
        offered = [c for c in candidates if c.standing and c.cosine >= settings.CONTEXT_STANDING_MIN_COSINE]
        unpinned = [i for i, c in enumerate(chosen) if not c.pinned]
        if offered and (len(chosen) < top_k or unpinned):
            best = max(offered, key=lambda c: c.cosine)
            if len(chosen) < top_k:
                chosen.append(best)
            else:
                chosen[unpinned[-1]] = best
    return sorted(chosen, key=lambda c: c.rank_score, reverse=True)


def _newer_first(chosen: list[_Candidate], signals: _Signals) -> list[_Candidate]:
    """Newer facts win: a later memory that matches the query about as well as an earlier one (within
    CONTEXT_SUPERSEDE_MARGIN of cosine) goes above it, as "we moved to Utrecht" must come before "we live in
    Toronto". Not for "when did ..." or a named time, which ask about the old version too, and only between the
    person's own words: a transcript of several speakers ("Caroline: ...", as an imported LoCoMo dialogue) tells
    events, not one person's current facts (measured: reordering those cost LoCoMo recall@5 0.10)."""
    if signals.asks_when or signals.window is not None:
        return chosen
    out = list(chosen)
    margin = settings.CONTEXT_SUPERSEDE_MARGIN

    def supersedes(newer: _Candidate, older: _Candidate) -> bool:
        return (
            newer.created_at > older.created_at
            and newer.cosine >= older.cosine - margin
            and not (older.pinned and not newer.pinned)
            and not _SPEAKER_LABEL.match(newer.text)
            and not _SPEAKER_LABEL.match(older.text)
        )

    for i in range(1, len(out)):
        j = i
        while j > 0 and supersedes(out[j], out[j - 1]):
            out[j - 1], out[j] = out[j], out[j - 1]
            j -= 1
    return out


def format_context(*, kind: str, provider: str, text: str, prompt: str, created_at: datetime) -> str:
    """A context string: when, and who said it (the person, or the assistant answering them)."""
    when = created_at.astimezone(UTC).strftime("%a %Y-%m-%d %H:%M UTC")
    if kind == Kind.RESPONSE:
        asked = prompt_head(prompt) if prompt else ""
        prefix = f"[{when}] You asked ({provider}): {asked}\n" if asked else f"[{when}] "
        return f"{prefix}Assistant ({provider}) answered: {text}"
    if _SPEAKER_LABEL.match(text):
        return f"[{when}] ({provider}) {text}"
    return f"[{when}] You ({provider}): {text}"


def _context_text(c: _Candidate) -> str:
    if c.standing:
        said = c.text if c.kind == Kind.PROMPT else c.prompt
        when = c.created_at.astimezone(UTC).strftime("%a %Y-%m-%d %H:%M UTC")
        return f"[{when}] You ({c.provider}), a standing preference: {standing_sentence(said)}"
    passage = whole_sentences(c.chunk_text, within=c.text)
    return format_context(kind=c.kind, provider=c.provider, text=passage, prompt=c.prompt, created_at=c.created_at)


def context_search(
    *,
    user: User,
    query: str,
    top_k: int,
    filters: ContextFilters | None = None,
    now: datetime | None = None,
    abstain: bool = True,
    max_tokens: int | None = None,
) -> list[ContextResult]:
    """The most relevant memories of ``user`` for ``query`` (at most ``top_k``, within ``max_tokens``), best
    first, one entry per exchange; none when nothing is relevant enough.

    ``now`` is when the query is asked (default: now; the benchmarks ask at the question's own time);
    ``abstain=False`` keeps answering below the relevance floor (the benchmarks' "no abstention" row).
    ``max_tokens`` defaults to CONTEXT_MAX_TOKENS; 0 means no budget.
    """
    filters = filters or ContextFilters()
    limit = max(settings.CONTEXT_CANDIDATES, top_k * OVERFETCH)
    signals = _signals(query, now or timezone.now())
    rows = _fetch(user=user, query=query, filters=filters, limit=limit)
    candidates = _merge([_candidate(row, signals) for row in rows])
    if filters.min_score is not None:
        # The client's own floor, on the same scale as the answer's ``score``, replaces the abstention rule.
        candidates = [c for c in candidates if c.cosine >= filters.min_score]
    elif abstain:
        if not _answerable(candidates, query):
            return []
        floor = settings.CONTEXT_MIN_COSINE_RESULT
        candidates = [c for c in candidates if c.cosine >= floor or c.code_match or c.pending or c.standing]
    pin_threshold = filters.min_score if filters.min_score is not None else settings.CONTEXT_PIN_MIN_SCORE
    chosen = _newer_first(_select(candidates, top_k=top_k, pin_threshold=pin_threshold, standing=abstain), signals)
    budget = settings.CONTEXT_MAX_TOKENS if max_tokens is None else max_tokens
    texts = pack([_context_text(c) for c in chosen], budget=budget, terms=query_terms(query))
    return [
        ContextResult(
            memory_id=c.memory_id,
            text=text,
            score=round(c.cosine, 4),
            provider=c.provider,
            kind=c.kind,
            created_at=c.created_at,
            priority=c.priority,
            pinned=c.pinned,
            rank_score=round(c.rank_score, 4),
        )
        for c, text in zip(chosen, texts, strict=True)
        if text is not None
    ]
