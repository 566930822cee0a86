"""The per-user hybrid (dense + keyword) search behind /context: ``context_search`` is its one entry point.

Three parts: the hybrid query (memories.search.hybrid: candidate rows with both raw signals), the ranking
(memories.search.ranking: the one formula and the answer order, documented there) and this orchestration:
abstention, taking the first ``top_k`` of the order, and fitting them into the token budget (budget.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from memories.embedding.inputs import prompt_head
from memories.models import Kind
from memories.search import ranking
from memories.search.budget import pack_stream, query_terms, whole_sentences
from memories.search.hybrid import Filters, hybrid_candidates, next_turns
from memories.search.query import speaker, standing_sentence
from memories.search.ranking import Candidate, Signals, Weights

ContextFilters = Filters


@dataclass(frozen=True)
class ContextResult:
    memory_id: int
    text: str
    score: float  # cosine similarity of the memory's best chunk to the query; the scale of min_score
    provider: str
    kind: str
    created_at: datetime
    priority: int
    pinned: bool = False
    rank: int = 0  # 1 = first: the answer's order (memories.search.ranking)
    rank_score: float = field(default=0.0, compare=False)


def format_context(*, kind: str, provider: str, text: str, prompt: str, created_at: datetime) -> str:
    """A context string: when, and who said it (the person, or the assistant answering them)."""
    when = created_at.astimezone(UTC).strftime("%a %Y-%m-%d %H:%M UTC")
    if kind == Kind.RESPONSE:
        asked = prompt_head(prompt) if prompt else ""
        prefix = f"[{when}] You asked ({provider}): {asked}\n" if asked else f"[{when}] "
        return f"{prefix}Assistant ({provider}) answered: {text}"
    if speaker(text) is not None:
        return f"[{when}] ({provider}) {text}"
    return f"[{when}] You ({provider}): {text}"


def _context_text(c: Candidate) -> str:
    row = c.row
    if c.standing:
        said = row.text if row.kind == Kind.PROMPT else row.prompt
        when = row.created_at.astimezone(UTC).strftime("%a %Y-%m-%d %H:%M UTC")
        return f"[{when}] You ({row.provider}), a standing preference: {standing_sentence(said)}"
    passage = whole_sentences(row.chunk_text, within=row.text)
    return format_context(
        kind=row.kind, provider=row.provider, text=passage, prompt=row.prompt, created_at=row.created_at
    )


def ranked_candidates(
    *,
    user: User,
    query: str,
    filters: Filters | None = None,
    now: datetime | None = None,
    abstain: bool = True,
    weights: Weights | None = None,
) -> list[Candidate]:
    """Every candidate exchange in answer order, before the budget (empty when the default call abstains)."""
    filters = filters or Filters()
    w = weights or Weights.from_settings()
    signals = Signals.of(query, now or timezone.now())
    rows = hybrid_candidates(user=user, query=query, filters=filters)
    merged = ranking.merge([ranking.candidate(row, signals, w) for row in rows])
    candidates = ranking.transcript_turns(merged, signals, w)
    if filters.min_score is not None:
        # The client's own floor, on the scale of the answer's ``score`` (cosine), replaces the abstention rule.
        candidates = [c for c in candidates if c.cosine >= filters.min_score]
    elif abstain:
        if not ranking.answerable(candidates, query, w):
            return []
        floor = w.min_cosine_result
        candidates = [c for c in candidates if c.cosine >= floor or c.code_match or c.pending or c.standing]
    pin_threshold = filters.min_score if filters.min_score is not None else w.pin_min_cosine
    ranked = ranking.order(candidates, signals, w, pin_threshold=pin_threshold, standing=abstain)
    questions = [c.memory_id for c in ranking.question_turns(ranked, w)]
    return ranking.answers_after_questions(ranked, next_turns(user=user, memory_ids=questions), w)


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
    """The most relevant memories of ``user`` for ``query`` (at most ``top_k``, within ``max_tokens``), in
    answer order (``rank``), one entry per exchange; none when nothing is relevant enough.

    The answer for ``top_k=k`` is exactly the first k of the answer for any larger top_k: the order does not
    depend on top_k, and the budget gives each place a share that depends only on the places before it
    (budget.pack_stream, shared as if CONTEXT_TOP_K_DEFAULT were asked, or every candidate when fewer). A place
    whose text cannot fit one sentence is skipped and the next candidate takes it.

    ``now`` is when the query is asked (default: now; the benchmarks ask at the question's own time);
    ``abstain=False`` keeps answering below the relevance floor (the benchmarks' "no abstention" row).
    ``max_tokens`` defaults to CONTEXT_MAX_TOKENS; 0 means no budget.
    """
    ordered = ranked_candidates(user=user, query=query, filters=filters, now=now, abstain=abstain)
    budget = settings.CONTEXT_MAX_TOKENS if max_tokens is None else max_tokens
    texts = pack_stream(
        (_context_text(c) for c in ordered),
        budget=budget,
        terms=query_terms(query),
        slots=min(settings.CONTEXT_TOP_K_DEFAULT, len(ordered)),
    )
    out: list[ContextResult] = []
    for c, text in zip(ordered, texts, strict=False):
        if len(out) >= top_k:
            break
        if text is None:
            continue
        out.append(
            ContextResult(
                memory_id=c.row.memory_id,
                text=text,
                score=round(c.cosine, 4),
                provider=c.row.provider,
                kind=c.row.kind,
                created_at=c.row.created_at,
                priority=c.row.priority,
                pinned=c.pinned,
                rank=len(out) + 1,
                rank_score=round(c.rank_score, 4),
            )
        )
    return out
