from __future__ import annotations

import pytest
from django.test import override_settings

from memories.checks import embedding_model_check


def test_it_passes_with_the_packaged_model():
    assert embedding_model_check() == []


@override_settings(EMBEDDING_DIMENSION=768)
def test_it_fails_when_the_setting_does_not_match_the_column():
    assert [e.id for e in embedding_model_check()] == ["memories.E001"]


@override_settings(EMBEDDING_MODEL_PATH="/nonexistent/model")
def test_it_fails_when_the_model_is_missing():
    assert [e.id for e in embedding_model_check()] == ["memories.E002"]


def test_it_fails_when_the_model_makes_vectors_of_another_size(tmp_path):
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text('{"word_embedding_dimension": 768}')
    with override_settings(EMBEDDING_MODEL_PATH=str(tmp_path)):
        assert [e.id for e in embedding_model_check()] == ["memories.E003"]


def test_it_refuses_an_unknown_search_backend(settings):
    from memories.checks import search_backend_check

    settings.SEARCH_BACKEND = "elastic"
    assert [m.id for m in search_backend_check()] == ["memories.E010"]


@pytest.mark.django_db
def test_it_warns_when_the_faiss_backend_has_no_index(faiss_backend):
    from memories.checks import search_backend_check

    (message,) = search_backend_check()
    assert message.id == "memories.W010" and "missing" in message.msg
    from memories.search import indexing

    indexing.index_rebuild()
    assert search_backend_check() == []
