"""memories.search.budget: whole sentences, the relevant ones, within the token budget."""

from __future__ import annotations

from memories.embedding.embeddings import count_tokens
from memories.search import budget

LONG = " ".join(f"Sentence {i} talks about topic number {i} in some detail." for i in range(40))


def test_it_drops_the_partial_sentences_a_window_cut():
    text = "First sentence here. Second one is whole. Third one too. Fourth is cut"
    chunk = "sentence here. Second one is whole. Third one too. Fourth is cut"
    assert budget.whole_sentences(chunk, within=text + " off here.") == "Second one is whole. Third one too."


def test_a_chunk_that_starts_and_ends_with_the_text_stays_whole():
    text = "Alpha one. Beta two. Gamma three."
    assert budget.whole_sentences(text, within=text) == text


def test_focus_keeps_the_sentence_that_shares_the_query_words():
    text = "The weather was fine. My plumber Dave fixed the leak on Tuesday. We had tea after."
    terms = budget.query_terms("who fixed the leak?")
    focused = budget.focus(text, terms=terms, max_tokens=14)
    assert focused is not None and "Dave fixed the leak" in focused and count_tokens(focused) <= 14


def test_pack_holds_the_budget_and_keeps_the_best_first():
    texts = [LONG, LONG.replace("topic", "subject"), "A short one."]
    packed = budget.pack(texts, budget=120, terms=frozenset())
    kept = [t for t in packed if t is not None]
    assert sum(count_tokens(t) for t in kept) <= 120
    assert packed[0] is not None and packed[2] == "A short one."


def test_pack_with_no_budget_keeps_everything():
    assert budget.pack([LONG, "x"], budget=0) == [LONG, "x"]


def test_a_text_that_cannot_fit_one_sentence_is_left_out():
    assert budget.pack(["word " * 500 + "."], budget=30) == [None]
