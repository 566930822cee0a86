from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memories.search import search_index


@pytest.fixture
def index_file(settings, tmp_path) -> Iterator[Path]:
    """A private FAISS_INDEX_PATH for the test, with no index loaded in this process before or after."""
    path = tmp_path / "faiss" / "chunks.index"
    settings.FAISS_INDEX_PATH = str(path)
    search_index.forget_loaded_index()
    yield path
    search_index.forget_loaded_index()


@pytest.fixture
def faiss_backend(settings, index_file) -> Path:
    settings.SEARCH_BACKEND = "faiss"
    return index_file
