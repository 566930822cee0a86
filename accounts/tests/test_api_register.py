from __future__ import annotations

import pytest

from accounts.models import User

pytestmark = pytest.mark.django_db

GOOD = {"username": "carol", "email": "carol@example.com", "password": "plum-orbit-tandem-42"}


def register(client, body, **extra):
    return client.post("/auth/register", body, format="json", **extra)


def test_it_registers_a_free_user_who_can_then_log_in(anon_client):
    response = register(anon_client, GOOD)

    assert response.status_code == 201, response.content
    body = response.json()
    user = User.objects.get(username="carol")
    assert body == {"user_id": str(user.pk), "username": "carol", "email": "carol@example.com", "tier": "free"}
    assert user.check_password(GOOD["password"]) and not user.is_staff
    token = anon_client.post("/auth/token/", {"username": "carol", "password": GOOD["password"]}, format="json")
    assert token.status_code == 200 and set(token.json()) == {"access", "refresh"}


def test_it_accepts_a_trailing_slash(anon_client):
    assert anon_client.post("/auth/register/", GOOD, format="json").status_code == 201


def test_it_ignores_fields_a_user_must_not_set(anon_client):
    body = {
        **GOOD,
        "tier": "enterprise",
        "is_staff": True,
        "is_superuser": True,
        "id": "00000000-0000-0000-0000-000000000001",
        "user_id": "00000000-0000-0000-0000-000000000001",
    }
    response = register(anon_client, body)

    assert response.status_code == 201 and response.json()["tier"] == "free"
    user = User.objects.get(username="carol")
    assert (user.tier, user.is_staff, user.is_superuser) == ("free", False, False)
    assert str(user.pk) != "00000000-0000-0000-0000-000000000001"


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("short1", "too short"),
        ("password123", "too common"),
        ("84736251907", "entirely numeric"),
        ("carol-example", "too similar"),
        ("", "may not be blank"),
    ],
)
def test_it_refuses_a_weak_password_naming_the_field(anon_client, password, fragment):
    response = register(anon_client, {**GOOD, "password": password})

    assert response.status_code == 400
    error = response.json()["error"]
    assert response.json()["success"] is False and error.startswith("password:") and fragment in error, error
    assert User.objects.count() == 0


@pytest.mark.parametrize("username", ["alice", "ALICE", "Alice"])
def test_it_refuses_a_taken_username_naming_the_field(alice, anon_client, username):
    response = register(anon_client, {**GOOD, "username": username})

    assert response.status_code == 400
    assert response.json()["error"] == "username: A user with that username already exists."
    assert User.objects.count() == 1


def test_it_answers_400_if_the_username_is_taken_concurrently(anon_client, monkeypatch):
    from accounts.api.serializers import RegisterInput

    User.objects.create_user(username="carol", password="x")
    monkeypatch.setattr(RegisterInput, "validate_username", lambda self, value: value)  # lose the race
    response = register(anon_client, GOOD)
    assert response.status_code == 400
    assert response.json()["error"] == "username: A user with that username already exists."


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "username: This field is required"),
        ({"username": "carol", "password": GOOD["password"]}, "email: This field is required"),
        ({**GOOD, "email": "not-an-email"}, "email: Enter a valid email address"),
        ({**GOOD, "username": "bad name!"}, "username: Enter a valid username"),
        ({**GOOD, "username": "x" * 151}, "username: Ensure this field has no more than 150"),
        ({**GOOD, "password": 12345678901234}, "password"),
    ],
)
def test_it_names_the_field_of_bad_input(anon_client, body, fragment):
    response = register(anon_client, body)
    assert response.status_code == 400 and fragment in response.json()["error"], response.json()


def test_it_answers_400_for_a_body_that_is_not_an_object(anon_client):
    response = anon_client.post("/auth/register", "[1]", content_type="application/json")
    assert response.status_code == 400 and response.json()["success"] is False


def test_it_answers_405_to_get(anon_client):
    assert anon_client.get("/auth/register").status_code == 405


def test_it_limits_registrations_per_ip(anon_client):
    for i in range(10):
        assert register(anon_client, {**GOOD, "username": f"user{i}"}).status_code == 201
    blocked = register(anon_client, {**GOOD, "username": "user10"})

    assert blocked.status_code == 429 and blocked.json()["success"] is False
    assert int(blocked["Retry-After"]) >= 1
    assert not User.objects.filter(username="user10").exists()
    assert register(anon_client, {**GOOD, "username": "user10"}, REMOTE_ADDR="198.51.100.7").status_code == 201
