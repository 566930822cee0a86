"""Answer coverage (memories/search/answerable.py) and the floor it raises (memories.search.ranking.answer_floor)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import override_settings

from memories.search import context, ranking
from memories.search.answerable import coverage, specificity, words
from memories.search.ranking import Weights
from memories.tests.factories import save

WHEN = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
# A lift large enough that a prompt whose specific words are all missing from its candidates cannot pass.
STRONG_LIFT = {"CONTEXT_UNCOVERED_LIFT": 0.7}


def test_it_weighs_common_words_next_to_nothing():
    assert specificity("the", common=6.0) == 0.0
    assert specificity("did", common=6.0) < 0.1
    assert specificity("bridesmaids", common=6.0) > 2.5


def test_it_weighs_a_word_english_does_not_know_the_most():
    assert specificity("ledgerlight", common=6.0) == 6.0


def test_it_reads_words_without_their_possessive():
    assert words("Biscuit's new vet, Dr. Kaya\u2019s clinic") == ["biscuit", "new", "vet", "dr", "kaya", "clinic"]


def test_it_is_whole_when_the_evidence_names_every_specific_word():
    evidence = ["I bought Red Duke of York seed potatoes for the allotment."]
    assert coverage("which seed potatoes did I get?", evidence, common=6.0) > 0.95


def test_it_is_low_when_the_evidence_misses_the_specific_word():
    evidence = ["We booked Hawthorn Barn for the wedding in September."]
    got = coverage("what colour are the bridesmaids' dresses for the wedding?", evidence, common=6.0)
    assert got < 0.5


def test_it_matches_a_word_on_its_first_six_letters():
    assert coverage("which varieties?", ["two variety of potato"], common=6.0) == pytest.approx(1.0)


def test_it_is_whole_for_a_query_without_a_specific_word():
    assert coverage("what is it and how?", [], common=6.0) == 1.0


def test_it_is_nothing_without_evidence():
    assert coverage("which hymn did we choose?", [], common=6.0) == 0.0


@pytest.fixture
def baker(alice):
    save(alice, "I switched my croissant butter to Échiré, the croissants are much flakier now.", when=WHEN)
    save(alice, "My second bakery shop opens in Fukushima in April, near the station.", when=WHEN)
    return alice


@pytest.mark.django_db
def test_it_answers_a_personal_prompt_whose_words_its_memories_hold(baker):
    with override_settings(**STRONG_LIFT):
        results = context.context_search(user=baker, query="which butter do I use for my croissants?", top_k=5)
    assert results and "Échiré" in results[0].text


@pytest.mark.django_db
def test_it_abstains_on_a_personal_prompt_about_a_thing_its_memories_never_name(baker):
    query = "how do I renew my driver's licence at the Kadoma centre?"
    assert context.context_search(user=baker, query=query, top_k=5, abstain=False)
    with override_settings(**STRONG_LIFT):
        assert context.context_search(user=baker, query=query, top_k=5) == []


@pytest.mark.django_db
def test_it_keeps_the_floor_as_it_is_when_the_lift_is_off(baker):
    query = "how do I renew my driver's licence at the Kadoma centre?"
    candidates = context.ranked_candidates(user=baker, query=query, abstain=False)
    with override_settings(CONTEXT_UNCOVERED_LIFT=0.0):
        assert ranking.answer_floor(candidates, query, Weights.from_settings()) == 0.29


@pytest.mark.django_db
def test_it_raises_the_floor_by_what_the_candidates_leave_out(baker):
    query = "how do I renew my driver's licence at the Kadoma centre?"
    candidates = context.ranked_candidates(user=baker, query=query, abstain=False)
    w = Weights.from_settings()
    missing = 1 - ranking.coverage(query, candidates, w)
    assert missing > 0.5
    with override_settings(CONTEXT_UNCOVERED_LIFT=0.1):
        assert ranking.answer_floor(candidates, query, Weights.from_settings()) == pytest.approx(0.29 + 0.1 * missing)


@pytest.mark.django_db
def test_it_lifts_the_general_floor_too(baker):
    query = "how does a jet engine produce thrust?"
    candidates = context.ranked_candidates(user=baker, query=query, abstain=False)
    with override_settings(CONTEXT_UNCOVERED_LIFT=0.1):
        assert ranking.answer_floor(candidates, query, Weights.from_settings()) > 0.43


@pytest.mark.django_db
def test_it_leaves_the_floor_alone_for_a_prompt_its_candidates_cover(baker):
    query = "which croissant butter did I switch to?"
    candidates = context.ranked_candidates(user=baker, query=query, abstain=False)
    with override_settings(CONTEXT_UNCOVERED_LIFT=0.1):
        assert ranking.answer_floor(candidates, query, Weights.from_settings()) == pytest.approx(0.29, abs=0.01)
