"""pending's bulk model calls: pieces cut from the inputs sorted by length, vectors back in input order."""

from __future__ import annotations

import numpy as np

from memories.embedding import embeddings, pending

# Lengths deliberately out of order, more than one piece (BULK_PIECE), and a repeated input.
TEXTS = [
    "The quarterly budget review covered travel, hardware and the new office lease in some detail. " * (i % 5 + 1)
    if i % 3
    else f"thanks {i}!"
    for i in range(pending.BULK_PIECE * 2 + 3)
] + ["thanks 0!"]


def test_it_gives_each_input_its_own_vector_whatever_the_order_of_the_model_calls():
    vectors = pending._bulk_embedded(TEXTS)

    assert len(vectors) == len(TEXTS)
    one_by_one = embeddings.embed(TEXTS)
    for got, expected in zip(vectors, one_by_one, strict=True):
        assert float(np.dot(got, expected)) > 0.999


def test_it_calls_the_model_on_pieces_of_similar_length(monkeypatch):
    calls: list[list[str]] = []
    real = embeddings.embed

    def recorded(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return real(texts)

    monkeypatch.setattr(embeddings, "embed", recorded)
    pending._bulk_embedded(TEXTS)

    assert all(len(call) <= pending.BULK_PIECE for call in calls)
    longest_of_each = [max(len(t) for t in call) for call in calls]
    assert longest_of_each == sorted(longest_of_each)
