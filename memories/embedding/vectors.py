"""pgvector's text form of an embedding, for raw SQL (``%s::vector``)."""

from __future__ import annotations

from typing import Any

_formats: dict[int, str] = {}


def vector_literal(vector: Any) -> str:
    """``[x1,x2,...]``; 9 significant digits carry a float32 exactly, and %-formatting is ~10x faster than
    pgvector's own conversion (0.5 ms per query for 384 floats)."""
    values = vector.tolist() if hasattr(vector, "tolist") else list(vector)
    n = len(values)
    if n not in _formats:
        _formats[n] = "[" + ",".join(["%.9g"] * n) + "]"
    return _formats[n] % tuple(values)
