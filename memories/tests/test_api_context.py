from __future__ import annotations

import pytest

from memories.models import Memory

pytestmark = pytest.mark.django_db

FACTS = [
    "I adopted a golden retriever puppy named Max last spring.",
    "My favourite programming language is Rust because of the borrow checker.",
    "We are planning a trip to Kyoto in April to see the cherry blossoms.",
    "I'm allergic to peanuts, so I always check food labels.",
    "My sister works as a marine biologist studying coral reefs.",
    "I run a half marathon every October in Berlin.",
]


def save(client, prompt, provider="chatgpt"):
    response = client.post("/save-prompt", {"prompt": prompt, "provider": provider}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def context(client, user, **params):
    return client.get(f"/context/{user.pk}", params)


def test_it_returns_the_paraphrased_memory_first(alice, alice_client):
    for fact in FACTS:
        save(alice_client, fact)

    response = context(alice_client, alice, query="what kind of dog do I own?")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(body["contexts"]) == 5
    assert "golden retriever" in body["contexts"][0]
    assert body["results"][0]["score"] > body["results"][1]["score"]
    assert set(body["results"][0]) == {"memory_id", "text", "score", "provider", "kind", "created_at", "priority"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("which food should I avoid because of an allergy?", "peanuts"),
        ("what does my sibling do for work?", "marine biologist"),
        ("upcoming holiday in Japan", "Kyoto"),
    ],
)
def test_it_finds_facts_by_meaning(alice, alice_client, query, expected):
    for fact in FACTS:
        save(alice_client, fact)
    assert expected in context(alice_client, alice, query=query, top_k=1).json()["contexts"][0]


def test_it_returns_an_answer_together_with_its_prompt(alice, alice_client):
    alice_client.post(
        "/save-response",
        {
            "prompt": "How long should I boil an egg?",
            "response": "About seven minutes for a jammy yolk.",
            "provider": "grok",
        },
        format="json",
    )
    text = context(alice_client, alice, query="egg cooking time").json()["contexts"][0]
    assert "How long should I boil an egg?" in text and "seven minutes" in text


def test_it_honours_top_k_and_returns_one_entry_per_memory(alice, alice_client):
    for fact in FACTS:
        save(alice_client, fact)
    body = context(alice_client, alice, query="travel", top_k=2).json()
    assert body["count"] == 2
    ids = [r["memory_id"] for r in body["results"]]
    assert len(set(ids)) == 2


def test_it_answers_an_empty_list_for_a_user_without_memories(alice, alice_client):
    assert context(alice_client, alice, query="anything").json() == {"contexts": [], "count": 0, "results": []}


def test_it_never_returns_another_users_memories(alice, bob, alice_client, bob_client):
    save(alice_client, "My bank PIN hint is the name of my first school.")
    save(bob_client, "Bob likes chess.")

    body = context(bob_client, bob, query="bank PIN hint", top_k=50).json()

    assert body["count"] == 1 and "chess" in body["contexts"][0]
    assert all("PIN" not in text for text in body["contexts"])


def test_it_refuses_to_search_another_users_memories(alice, bob_client, alice_client):
    save(alice_client, "secret plans")
    response = context(bob_client, alice, query="plans")
    assert response.status_code == 403
    assert response.json() == {"success": False, "error": "User ID mismatch"}


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"query": "x", "top_k": 0}, "top_k"),
        ({"query": "x", "top_k": 51}, "top_k"),
        ({"query": "x", "top_k": "five"}, "top_k"),
        ({"query": ""}, "query"),
        ({}, "query: this field is required"),
        ({"query": "a\x00b"}, "null"),
        ({"query": "q" * 2001}, "query"),
    ],
)
def test_it_refuses_bad_queries(alice, alice_client, params, fragment):
    response = context(alice_client, alice, **params)
    assert response.status_code == 400
    assert response.json()["success"] is False and fragment in response.json()["error"].lower()


def test_it_accepts_top_k_at_the_cap(alice, alice_client):
    save(alice_client, "one memory")
    assert context(alice_client, alice, query="x", top_k=50).status_code == 200


def test_it_requires_a_token(alice, anon_client):
    response = context(anon_client, alice, query="x")
    assert response.status_code == 401 and response.json()["success"] is False


def test_it_answers_405_for_the_wrong_method(alice, alice_client):
    response = alice_client.post(f"/context/{alice.pk}", {}, format="json")
    assert response.status_code == 405 and response.json()["success"] is False
    assert Memory.objects.count() == 0
