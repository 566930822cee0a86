"""The priority system and the hybrid ranking behind /context (formula in memories/search/ranking.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from memories import services
from memories.models import Chunk, Memory, Priority
from memories.search import context

pytestmark = pytest.mark.django_db

BACKGROUND = [
    "I adopted a golden retriever puppy named Max last spring.",
    "My favourite programming language is Rust because of the borrow checker.",
    "I'm allergic to peanuts, so I always check food labels.",
    "My sister works as a marine biologist studying coral reefs.",
    "I run a half marathon every October in Berlin.",
    "Our kitchen renovation needs new oak cabinets.",
    "I practise the cello for thirty minutes every evening.",
    "The quarterly tax filing is due at the end of the month.",
]
WHEN = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def save(user, text, *, priority=Priority.NORMAL, pinned=False, created_at=WHEN, provider="chatgpt"):
    return services.memory_save(
        user=user,
        kind="prompt",
        provider=provider,
        text=text,
        priority=priority,
        pinned=pinned,
        created_at=created_at,
    ).memory


def with_background(user):
    for i, text in enumerate(BACKGROUND):
        # hours apart, so that no memory is indexed with another's conversation context
        save(user, text, created_at=WHEN - timedelta(days=i + 1))


def ids(results):
    return [r.memory_id for r in results]


def make_equally_relevant(source: Memory, target: Memory) -> None:
    """Give ``target`` exactly the indexed text and vector of ``source`` (its displayed text stays its own)."""
    chunk = Chunk.objects.get(memory=source)
    Chunk.objects.filter(memory=target).update(search_text=chunk.search_text, embedding=chunk.embedding)


@pytest.mark.parametrize("high_first", [True, False])
def test_it_ranks_the_higher_priority_first_between_equally_relevant_memories(alice, high_first):
    with_background(alice)
    first = save(alice, "Remember that the spare house key is under the blue flowerpot.")
    second = save(alice, "Remember that the spare house key is under the blue flower pot.")
    make_equally_relevant(first, second)
    high, normal = (first, second) if high_first else (second, first)
    Memory.objects.filter(pk=high.pk).update(priority=Priority.HIGH)

    results = context.context_search(user=alice, query="where is the spare key?", top_k=3)

    assert ids(results)[:2] == [high.pk, normal.pk]
    assert results[0].score == results[1].score
    assert results[0].priority == Priority.HIGH and results[1].priority == Priority.NORMAL


def test_it_ranks_normal_above_low_between_equally_relevant_memories(alice):
    with_background(alice)
    low = save(alice, "The wifi password is on the fridge door.", priority=Priority.LOW)
    normal = save(alice, "The wifi password is on the fridge door!")
    make_equally_relevant(low, normal)

    results = context.context_search(user=alice, query="wifi password", top_k=2)

    assert ids(results) == [normal.pk, low.pk]


def test_low_priority_never_hides_an_exact_match(alice):
    with_background(alice)
    for text in ["My gym membership renews in May.", "I go to the gym on Mondays.", "The gym sauna is great."]:
        save(alice, text, priority=Priority.HIGH, created_at=timezone.now() - timedelta(hours=3))
    exact = save(alice, "My locker code at the Riverside gym is 4512.", priority=Priority.LOW)

    results = context.context_search(user=alice, query="My locker code at the Riverside gym is 4512.", top_k=1)

    assert ids(results) == [exact.pk]
    assert results[0].priority == Priority.LOW


@override_settings(CONTEXT_PIN_MIN_SCORE=0.0)
def test_a_pinned_memory_that_clears_the_threshold_is_always_returned(alice):
    with_background(alice)
    for i, text in enumerate(
        [
            "I booked flights to Lisbon for the first week of June.",
            "Flights to Lisbon were cheapest on a Tuesday.",
            "The Lisbon flight leaves from gate B12.",
        ]
    ):
        save(alice, text, priority=Priority.HIGH, created_at=timezone.now() - timedelta(hours=i + 1))
    pinned = save(alice, "On every flight I want an aisle seat.", pinned=True, created_at=WHEN)

    everything = context.context_search(user=alice, query="booking flights to Lisbon", top_k=20)
    assert everything[0].memory_id == pinned.pk and everything[0].score >= 0.0  # clears the pin threshold
    assert everything[1].score > everything[0].score  # ...and goes first although the Lisbon memories match better

    for top_k in (1, 2, 3):
        results = context.context_search(user=alice, query="booking flights to Lisbon", top_k=top_k)
        assert results == everything[:top_k]


@override_settings(CONTEXT_PIN_MIN_SCORE=100.0)
def test_a_pinned_memory_below_the_threshold_is_not_forced_in(alice):
    with_background(alice)
    pinned = save(alice, "On every flight I want an aisle seat.", pinned=True)
    results = context.context_search(user=alice, query="marathon in Berlin", top_k=1)
    assert ids(results) != [pinned.pk]


def test_min_score_is_the_pin_threshold_when_given(alice):
    with_background(alice)
    pinned = save(alice, "On every flight I want an aisle seat.", pinned=True)
    filters = context.ContextFilters(min_score=50.0)
    assert context.context_search(user=alice, query="aisle seat", top_k=5, filters=filters) == []
    low_bar = context.ContextFilters(min_score=-50.0)
    results = context.context_search(user=alice, query="marathon in Berlin", top_k=1, filters=low_bar)
    assert ids(results) == [pinned.pk]


def test_it_prefers_the_recent_one_between_equally_relevant_memories(alice):
    with_background(alice)
    old = save(alice, "My dentist is Dr. Okafor on Elm Street.", created_at=timezone.now() - timedelta(days=400))
    new = save(alice, "My dentist is Dr. Okafor on Elm Street!", created_at=timezone.now() - timedelta(days=1))
    make_equally_relevant(old, new)

    results = context.context_search(user=alice, query="who is my dentist", top_k=2)

    assert ids(results) == [new.pk, old.pk]


def test_it_finds_a_rare_keyword_the_embedding_misses(alice):
    with_background(alice)
    target = save(alice, "Ticket XQ-7731 is the refund request for the broken kettle.")
    results = context.context_search(user=alice, query="XQ 7731", top_k=1)
    assert ids(results) == [target.pk]


def test_it_handles_a_query_without_any_word(alice):
    with_background(alice)
    assert context.context_search(user=alice, query="?!? …", top_k=3) == []  # nothing fits: nothing comes back
    results = context.context_search(user=alice, query="?!? …", top_k=3, abstain=False)
    assert len(results) == 3


def test_it_handles_a_single_memory(alice):
    only = save(alice, "Just one thing to remember.")
    results = context.context_search(user=alice, query="one thing to remember", top_k=5)
    assert ids(results) == [only.pk] and 0.5 < results[0].score <= 1.0  # raw cosine: an absolute scale


def test_it_returns_one_entry_for_a_prompt_and_the_answer_saved_with_it(alice):
    with_background(alice)
    prompt = services.memory_save(user=alice, kind="prompt", provider="claude", text="How long to boil an egg?")
    answer = services.memory_save(
        user=alice,
        kind="response",
        provider="claude",
        text="Seven minutes for a jammy yolk.",
        prompt=prompt.stored.text,
    )

    results = context.context_search(user=alice, query="How long to boil an egg?", top_k=5)

    exchange = [r for r in results if r.memory_id in (prompt.stored.pk, answer.stored.pk)]
    assert [r.memory_id for r in exchange] == [answer.stored.pk]
    assert results[0].memory_id == answer.stored.pk
    assert "How long to boil an egg?" in results[0].text and "Seven minutes" in results[0].text


def test_it_never_returns_two_chunks_of_one_memory(alice):
    with_background(alice)
    long_text = " ".join(f"The garden plan for bed {i} has tomatoes, basil and peppers." for i in range(80))
    saved = services.memory_save(user=alice, kind="prompt", provider="chatgpt", text=long_text)
    assert saved.chunks_stored > 1

    results = context.context_search(user=alice, query="my garden plan with tomatoes, basil and peppers", top_k=5)

    assert len(ids(results)) == len(set(ids(results)))
    assert ids(results)[0] == saved.stored.pk


PICNIC = [
    "Caroline: I went to a pottery class yesterday and made a bowl.",
    "Melanie: That's wonderful! What colour did you glaze it?",
    "Caroline: Blue, like the lake where we had our picnic.",
    "Melanie: I always take the kids painting by the lake on Sundays.",
    "Caroline: The picnic by the lake was my favourite day this summer.",
    "Melanie:  We should plan another picnic by the lake soon.",  # two spaces after the label, as LoCoMo has
]


def test_a_turn_of_a_transcript_is_never_offered_as_a_standing_preference(alice, settings):
    """ "Melanie: I always take the kids painting ..." reads like a standing preference, but it is a turn of a
    conversation between two people: the answer is the ranking's own, as with standing preferences off."""
    turns = [save(alice, text, created_at=WHEN + timedelta(minutes=i)) for i, text in enumerate(PICNIC)]
    assert Memory.objects.get(pk=turns[3].pk).standing  # flagged on save from the words alone

    results = context.context_search(user=alice, query="What did Caroline make at the pottery class?", top_k=6)
    settings.CONTEXT_STANDING_MIN_COSINE = 2.0  # no standing preference is ever offered
    without = context.context_search(user=alice, query="What did Caroline make at the pottery class?", top_k=6)

    assert ids(results) == ids(without)
    assert not any("a standing preference" in r.text for r in results)


def test_a_one_off_label_is_still_the_persons_own_standing_preference(alice):
    """A prompt that opens with a label once ("Note: ...") is the person's own words, not a transcript turn."""
    with_background(alice)
    preference = save(alice, "Note: from now on, always give me distances in kilometres and paces in min/km.")
    for i, topic in enumerate(("new running shoes", "a hill workout", "a rest day", "my long run route")):
        save(alice, f"Can you help me with {topic} for my marathon training?", created_at=WHEN + timedelta(days=i))

    results = context.context_search(user=alice, query="Plan my next training week for the marathon", top_k=5)

    assert preference.pk in ids(results)[:3]
    assert any("a standing preference: Note: from now on" in r.text for r in results)


DRAWING = [
    "Caroline: What my drawings mean to me changes every day, Melanie.",
    "Melanie: Your drawing of the garden means so much to your mom, Caroline.",
    "Caroline: I finished a drawing of the lake last night, and a drawing of my mom's garden.",
    "Melanie: That's awesome, Caroline! You drew it? What does the drawing mean to you?",
    "Caroline: Thanks! It stands for freedom and being real, a nudge to stay true to myself and embrace who I "
    "am, every single day, whatever happens next, with the people I love around me.",
    "Melanie: My kids love drawing too, they drew the whole family on the fridge.",
    "Caroline: Drawing flowers is one of my favourite things to do on Sundays.",
    "Melanie: We went camping by the lake and roasted marshmallows.",
]


def test_in_a_transcript_the_answer_to_a_question_turn_follows_the_first_places(alice, settings):
    """The answer to "What does the drawing mean to you?" shares no word with the question asked of the memory;
    it is the next turn, by the other speaker, so it comes right after the first ``CONTEXT_ANSWERS_AFTER``
    places (which do not change)."""
    turns = [save(alice, text, created_at=WHEN) for text in DRAWING]  # one session, one time: saved in order
    question, answer = turns[3].pk, turns[4].pk
    ask = "What does Caroline's drawing mean to her?"
    settings.CONTEXT_SPEAKER_WEIGHT = 0.0  # this test is about the order of turns alone
    settings.CONTEXT_ANSWERS_AFTER = 0
    plain = ids(context.context_search(user=alice, query=ask, top_k=8))
    at = plain.index(question) + 1
    assert plain.index(answer) > at  # without the step, other drawing turns come between them

    settings.CONTEXT_ANSWERS_AFTER = at
    results = ids(context.context_search(user=alice, query=ask, top_k=8))

    assert results[:at] == plain[:at] and results[at] == answer
    assert sorted(results) == sorted(plain)


POTTERY = [
    "Melanie: I made a green bowl at the pottery class and glazed it twice, my first pottery bowl!",
    "Caroline: Lovely! Mine came out as a little blue dish.",
    "Melanie: The kids want to try pottery next, maybe a mug or a plate.",
    "Caroline: We should go camping by the lake again soon.",
]


def test_a_question_that_names_a_speaker_ranks_their_turns_higher(alice, settings):
    """ "What did Caroline make?" is about what Caroline said: her turns get CONTEXT_SPEAKER_WEIGHT more."""
    with_background(alice)
    # hours apart: no turn's keyword index holds the turn before it (the conversation window)
    turns = [save(alice, text, created_at=WHEN + timedelta(hours=i)) for i, text in enumerate(POTTERY)]
    ask = "What did Caroline make at the pottery class?"
    settings.CONTEXT_SPEAKER_WEIGHT = 0.0
    plain = {r.memory_id: r for r in context.context_search(user=alice, query=ask, top_k=4)}
    assert ids(plain.values())[0] == turns[0].pk  # Melanie's turn matches the words best

    settings.CONTEXT_SPEAKER_WEIGHT = 2.0
    results = context.context_search(user=alice, query=ask, top_k=4)

    assert ids(results)[0] == turns[1].pk
    for r in results:
        said_by_caroline = r.memory_id in (turns[1].pk, turns[3].pk)
        assert r.rank_score == pytest.approx(plain[r.memory_id].rank_score + (2.0 if said_by_caroline else 0.0))


def test_a_one_off_label_is_not_a_speaker(alice, settings):
    """ "Django: ..." once among the person's own prompts is a topic, not someone in a conversation."""
    with_background(alice)
    save(alice, "Django: how do I put the dashboard app into read-only mode for every customer?")
    ask = "How do I make the Django dashboard read-only?"
    settings.CONTEXT_SPEAKER_WEIGHT = 0.0
    plain = [(r.memory_id, r.rank_score) for r in context.context_search(user=alice, query=ask, top_k=3)]
    settings.CONTEXT_SPEAKER_WEIGHT = 2.0
    assert [(r.memory_id, r.rank_score) for r in context.context_search(user=alice, query=ask, top_k=3)] == plain
