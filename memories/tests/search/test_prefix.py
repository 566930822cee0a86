"""The answer for top_k=k is exactly the first k of the answer for any K >= k (memories/search/ranking.py).

A property test over real saved memories (a person's exchanges and an imported two-person transcript, whose
turns the ranking treats apart): hypothesis draws the query, the filters, which memories are pinned,
the token budget and the two sizes; the ranking must not move.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memories import services
from memories.models import Memory, Priority
from memories.search import context

pytestmark = pytest.mark.django_db

START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
NOW = START + timedelta(days=200)
EXCHANGES = [
    ("chatgpt", "We live in Toronto, in a flat near High Park.", "Toronto flats near High Park are lovely."),
    ("claude", "Big news: we moved to Utrecht last week.", "Congratulations on the move to Utrecht!"),
    ("gemini", "The country loaf costs 6 euros at my bakery.", "Six euros is a fair price for a country loaf."),
    ("chatgpt", "I raised the country loaf to 7 euros this month.", "Seven euros still sounds fair."),
    ("grok", "From now on, always answer in metric units.", "Understood: metric units from now on."),
    ("claude", "My dentist is Dr. Okafor on Elm Street.", "Noted, Dr. Okafor on Elm Street."),
    ("chatgpt", "Plan my marathon training for Berlin in October.", "Week 1: three easy runs and a long run."),
    ("gemini", "Ticket XQ-7731 is the refund for the broken kettle.", "I will remember ticket XQ-7731."),
    ("claude", "What should I do about the leak under the sink?", "Turn off the stopcock and call a plumber."),
    ("grok", "My sister studies coral reefs as a marine biologist.", "Coral reef research is fascinating."),
    ("chatgpt", "I practise the cello every evening for thirty minutes.", "Thirty minutes a day builds skill."),
    ("gemini", "Our kitchen renovation needs new oak cabinets.", "Oak cabinets suit a warm kitchen."),
]
# An imported conversation between two people: transcript turns (a named speaker, a question and its answer).
TRANSCRIPT = [
    "Caroline: I went to a pottery class last Friday.",
    "Melanie: Fun! What did you make at the pottery class?",
    "Caroline: A little blue bowl, I always wanted one.",
    "Melanie: I always paint by the lake on Sundays.",
]
QUERIES = [
    "What did Caroline make at the pottery class?",
    "where do we live now?",
    "how much is the country loaf?",
    "my marathon plan",
    "XQ-7731",
    "what did the plumber say about the leak?",
    "who is my dentist",
    "how does a jet engine work?",
    "units",
]


@pytest.fixture
def memories(alice) -> list[int]:
    ids = []
    for i, (provider, prompt, answer) in enumerate(EXCHANGES):
        when = START + timedelta(days=15 * i)
        priority = (Priority.LOW, Priority.NORMAL, Priority.HIGH)[i % 3]
        saved = services.memory_save(
            user=alice, kind="prompt", provider=provider, text=prompt, created_at=when, priority=priority
        )
        ids.append(saved.stored.pk)
        reply = services.memory_save(
            user=alice, kind="response", provider=provider, text=answer, prompt=prompt, created_at=when
        )
        ids.append(reply.stored.pk)
    for turn in TRANSCRIPT:  # one session: one time, saved in order
        saved = services.memory_save(user=alice, kind="prompt", provider="chatgpt", text=turn, created_at=START)
        ids.append(saved.stored.pk)
    return ids


filters_strategy = st.builds(
    context.ContextFilters,
    provider=st.sampled_from([None, "chatgpt", "claude"]),
    kind=st.sampled_from([None, "prompt", "response"]),
    since=st.sampled_from([None, START + timedelta(days=40)]),
    until=st.sampled_from([None, START + timedelta(days=120)]),
    min_score=st.sampled_from([None, -1.0, 0.1, 0.3]),
)


def test_it_answers_a_smaller_top_k_with_the_first_results_of_a_larger_one(alice, memories):
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        query=st.sampled_from(QUERIES),
        filters=filters_strategy,
        pinned=st.sets(st.sampled_from(memories), max_size=3),
        max_tokens=st.sampled_from([None, 0, 40, 120, 600]),
        abstain=st.booleans(),
        k=st.integers(min_value=1, max_value=8),
        extra=st.integers(min_value=0, max_value=30),
    )
    def prefix(query, filters, pinned, max_tokens, abstain, k, extra):
        Memory.objects.filter(user=alice).update(pinned=False)
        Memory.objects.filter(pk__in=pinned).update(pinned=True)

        def ask(top_k):
            return context.context_search(
                user=alice,
                query=query,
                top_k=top_k,
                filters=filters,
                now=NOW,
                abstain=abstain,
                max_tokens=max_tokens,
            )

        small, large = ask(k), ask(k + extra)
        assert small == large[:k]
        assert [r.rank for r in large] == list(range(1, len(large) + 1))
        assert len(small) == min(k, len(large))

    prefix()
