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


def save(client, prompt, provider="chatgpt", **extra):
    response = client.post("/save-prompt", {"prompt": prompt, "provider": provider, **extra}, format="json")
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
    assert body["count"] == len(body["contexts"]) >= 1
    assert "golden retriever" in body["contexts"][0]
    # Abstention: the facts that have nothing to do with a dog are not pasted into the prompt.
    assert not any("Kyoto" in text or "Rust" in text or "coral" in text for text in body["contexts"])
    assert all(r["score"] <= body["results"][0]["score"] for r in body["results"])
    assert set(body["results"][0]) == {
        "memory_id",
        "text",
        "score",
        "rank",
        "provider",
        "kind",
        "created_at",
        "priority",
    }
    assert [r["rank"] for r in body["results"]] == list(range(1, body["count"] + 1))


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
    body = context(alice_client, alice, query="travel", top_k=2, min_score=-1).json()  # no abstention floor
    assert body["count"] == 2
    ids = [r["memory_id"] for r in body["results"]]
    assert len(set(ids)) == 2


def test_it_answers_an_empty_list_for_a_user_without_memories(alice, alice_client):
    assert context(alice_client, alice, query="anything").json() == {"contexts": [], "count": 0, "results": []}


def test_it_never_returns_another_users_memories(alice, bob, alice_client, bob_client):
    save(alice_client, "My bank PIN hint is the name of my first school.")
    save(bob_client, "Bob likes chess.")

    body = context(bob_client, bob, query="bank PIN hint", top_k=50, min_score=-1).json()  # bob's only memory too

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


def test_it_says_when_and_who_in_each_context_string(alice, alice_client):
    save(alice_client, "Caroline: I went to the LGBTQ support group yesterday.", timestamp="2023-05-08T13:56:00Z")
    save(alice_client, "Remind me to water the ferns.", provider="claude", timestamp="2023-06-01T08:00:00Z")

    body = context(alice_client, alice, query="support group", top_k=2, min_score=-1).json()

    assert (
        body["contexts"][0]
        == "[Mon 2023-05-08 13:56 UTC] (chatgpt) Caroline: I went to the LGBTQ support group yesterday."
    )
    assert body["contexts"][1] == "[Thu 2023-06-01 08:00 UTC] You (claude): Remind me to water the ferns."
    assert body["results"][0]["created_at"] == "2023-05-08T13:56:00Z"
    assert body["results"][0]["priority"] == "normal"


def test_it_shows_a_prompt_and_its_answer_once(alice, alice_client):
    prompt = "Which wine goes with mushroom risotto?"
    save(alice_client, prompt, provider="gemini")
    answer = alice_client.post(
        "/save-response", {"prompt": prompt, "response": "A dry Pinot Noir.", "provider": "gemini"}, format="json"
    ).json()
    for fact in FACTS:
        save(alice_client, fact)

    body = context(alice_client, alice, query="wine for risotto", top_k=5).json()

    assert body["results"][0]["memory_id"] == answer["memory_id"] and body["results"][0]["kind"] == "response"
    assert sum("mushroom risotto" in text for text in body["contexts"]) == 1
    assert "Pinot Noir" in body["contexts"][0]


def _spread(client):
    save(client, "Packing list for the Kyoto trip: rail pass, umbrella.", timestamp="2024-01-10T10:00:00Z")
    save(
        client,
        "Kyoto temples to visit: Kinkaku-ji and Fushimi Inari.",
        provider="claude",
        timestamp="2024-03-10T10:00:00Z",
    )
    client.post(
        "/save-response",
        {
            "prompt": "Best season for Kyoto?",
            "response": "Spring, for the cherry blossoms.",
            "provider": "grok",
            "timestamp": "2024-05-10T10:00:00Z",
        },
        format="json",
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"provider": "Claude"}, ["Kinkaku-ji"]),
        ({"kind": "response"}, ["cherry blossoms"]),
        ({"kind": "prompt", "provider": "chatgpt"}, ["rail pass"]),
        ({"since": "2024-03-10T10:00:00Z"}, ["Kinkaku-ji", "cherry blossoms"]),
        ({"until": "2024-03-10T10:00:00Z"}, ["rail pass", "Kinkaku-ji"]),
        ({"since": "2024-02-01", "until": "2024-04-01T00:00:00Z"}, ["Kinkaku-ji"]),
        ({"min_score": 1}, []),
    ],
)
def test_it_filters_context(alice, alice_client, params, expected):
    _spread(alice_client)

    body = context(alice_client, alice, query="Kyoto", top_k=10, **params).json()

    assert body["count"] == len(expected)
    assert sorted(expected) == sorted(e for e in expected for text in body["contexts"] if e in text)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"provider": "bard"}, "provider: 'bard' is not supported"),
        ({"kind": "note"}, "kind:"),
        ({"since": "last week"}, "since: datetime has wrong format"),
        ({"until": "2024-02-30T00:00:00Z"}, "until:"),
        ({"since": "2024-03-02T00:00:00Z", "until": "2024-03-01T00:00:00Z"}, "since: must not be after until"),
        ({"min_score": "high"}, "min_score: a valid number is required"),
        ({"min_score": "nan"}, "min_score: a valid number is required"),
        ({"min_score": "1e9"}, "min_score"),
        ({"min_score": "1.5"}, "min_score: ensure this value is less than or equal to 1"),
        ({"max_tokens": "-1"}, "max_tokens: ensure this value is greater than or equal to 0"),
        ({"max_tokens": "lots"}, "max_tokens: a valid integer is required"),
        ({"max_tokens": "9000"}, "max_tokens: ensure this value is less than or equal to 8000"),
    ],
)
def test_it_refuses_bad_filters(alice, alice_client, params, fragment):
    response = context(alice_client, alice, query="x", **params)
    assert response.status_code == 400
    assert response.json()["success"] is False and fragment in response.json()["error"].lower()
