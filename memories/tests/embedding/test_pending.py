"""pending's bulk model calls: pieces of similar length within a text budget, vectors back in input order."""

from __future__ import annotations

import numpy as np

from memories.embedding import embeddings, pending

# Lengths deliberately out of order, more than one piece, a repeated input.
TEXTS = [
    "The quarterly budget review covered travel, hardware and the new office lease in some detail. " * (i % 5 + 1)
    if i % 3
    else f"thanks {i}!"
    for i in range(40)
] + ["thanks 0!"]


def test_it_gives_each_input_its_own_vector_whatever_the_order_of_the_model_calls(settings):
    settings.MEMORY_EMBED_BULK_PIECE_CHARS = 1000
    vectors = pending._bulk_embedded(TEXTS)

    assert len(vectors) == len(TEXTS)
    one_by_one = embeddings.embed(TEXTS)
    for got, expected in zip(vectors, one_by_one, strict=True):
        assert float(np.dot(got, expected)) > 0.999


def test_it_cuts_pieces_of_similar_length_within_the_budget():
    pieces = pending.bulk_pieces(TEXTS, budget=1000)

    assert sorted(i for piece in pieces for i in piece) == list(range(len(TEXTS)))
    longest = [max(len(TEXTS[i]) for i in piece) for piece in pieces]
    assert longest == sorted(longest)
    for piece in pieces:
        cost = sum(min(len(TEXTS[i]), pending.BULK_INPUT_CHARS) for i in piece)
        assert cost <= 1000 or len(piece) == 1


def test_it_puts_an_input_longer_than_the_budget_alone_and_caps_a_piece_of_short_ones():
    long_text, short = "x" * 5000, ["ok"] * (pending.BULK_PIECE_MAX + 5)

    assert pending.bulk_pieces([long_text], budget=1000) == [[0]]
    assert [len(p) for p in pending.bulk_pieces(short, budget=10**6)] == [pending.BULK_PIECE_MAX, 5]
