"""A deleted or corrupted FAISS index: /context keeps answering from pgvector, /ready says "degraded" (still 200),
and `rebuild_index` repairs it. Written against the FAISS engine's API (branch `faiss`); skipped without it."""

from __future__ import annotations

from io import StringIO

import pytest

search_index = pytest.importorskip("memories.search.search_index")
dense = pytest.importorskip("memories.search.dense")

from django.core.management import call_command  # noqa: E402
from django.urls import resolve  # noqa: E402

from memories import services  # noqa: E402
from memories.embedding import embeddings  # noqa: E402
from memories.models import Kind  # noqa: E402

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

FACTS = [
    "My sister Ana lives in Porto and teaches chemistry.",
    "I am allergic to peanuts and shellfish.",
    "Our team's stand-up is at 9:30 every weekday.",
    "The bike's tyre pressure should be 4.5 bar.",
]


@pytest.fixture
def faiss_index(settings, tmp_path):
    path = tmp_path / "faiss" / "chunks.index"
    settings.SEARCH_BACKEND = "faiss"
    settings.FAISS_INDEX_PATH = str(path)
    search_index.forget_loaded_index()
    yield path
    search_index.forget_loaded_index()


def rebuild() -> None:
    call_command("rebuild_index", stdout=StringIO(), stderr=StringIO(), verbosity=0)


def engine_for(user, query: str) -> str:
    return dense.dense_search(user=user, vector=embeddings.embed([query])[0], limit=3).engine


def context(client, user, query: str) -> list[str]:
    response = client.get(f"/context/{user.pk}", {"query": query, "top_k": 2})
    assert response.status_code == 200, response.content
    return response.json()["contexts"]


def ready(client) -> tuple[str, str]:
    """(status, search_index check) of /ready; a broken index must not take the instance out of rotation."""
    resolve("/ready")
    response = client.get("/ready")
    assert response.status_code == 200, response.content
    body = response.json()
    return body["status"], body["checks"]["search_index"]


@pytest.mark.parametrize("damage", ["delete", "truncate", "garbage"])
def test_a_broken_index_falls_back_to_pgvector_and_rebuild_index_repairs_it(
    faiss_index, alice, alice_client, client, damage
):
    embeddings.get_model()  # /ready reports "not loaded" until this process holds the model
    for fact in FACTS:
        services.memory_save(user=alice, kind=Kind.PROMPT, provider="chatgpt", text=fact)
    rebuild()
    assert engine_for(alice, "allergies") == "faiss"
    healthy = context(alice_client, alice, "what am I allergic to?")
    assert "peanuts" in healthy[0]
    assert ready(client) == ("ready", "ok")

    if damage == "delete":
        faiss_index.unlink()
    elif damage == "truncate":
        faiss_index.write_bytes(faiss_index.read_bytes()[:100])
    else:
        faiss_index.write_bytes(b"\x00not a faiss index\xff" * 64)

    assert search_index.index_status()["state"] in ("missing", "corrupt")
    assert engine_for(alice, "allergies").startswith("pgvector")
    assert context(alice_client, alice, "what am I allergic to?") == healthy  # same answers, from pgvector
    status, index_check = ready(client)
    assert status == "degraded" and index_check.startswith("degraded: index ") and "served by pgvector" in index_check

    rebuild()

    assert search_index.index_status()["state"] == "ok"
    assert engine_for(alice, "allergies") == "faiss"
    assert context(alice_client, alice, "what am I allergic to?") == healthy
    assert ready(client) == ("ready", "ok")
