"""accounts.spaces (the one resolver) and the space services: the default space, names, tokens holding spaces."""

from __future__ import annotations

import uuid

import pytest

from accounts import services
from accounts.models import DEFAULT_SPACE_NAME, Space
from accounts.spaces import space_id_parse, space_pick, spaces_pick
from core.exceptions import Conflict, InvalidInput, NotFound
from testkit import assert_error, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        (7, 7),
        ("7", 7),
        (" 7 ", 7),
        ("0", None),
        (0, None),
        (-3, None),
        ("-3", None),
        ("7.0", None),
        (7.5, None),
        (True, None),
        ("abc", None),
        ("٣", None),
        (2**63, None),
        ("9" * 30, None),
        ([7], None),
        (None, None),
    ],
)
def test_it_parses_only_a_positive_bigint_id(raw, parsed):
    assert space_id_parse(raw) == parsed


def test_it_makes_the_default_space_once_on_first_use(alice):
    first = services.space_default(user=alice)
    again = services.space_default(user=alice)

    assert first == again and (first.name, first.is_default) == (DEFAULT_SPACE_NAME, True)
    assert Space.objects.filter(user=alice).count() == 1


def test_every_sign_up_path_starts_with_personal():
    registered = services.user_register(username="carol", email="carol@example.com", password="pw-carol-long-1")
    provisioned = services.supabase_user_provision(
        user_id=uuid.UUID("0b7c6e36-8a51-4f5e-9a57-1c7b4dd2f0aa"), email="dave@example.com"
    )

    for user in (registered, provisioned):
        assert list(Space.objects.filter(user=user).values_list("name", "is_default")) == [(DEFAULT_SPACE_NAME, True)]


def test_it_picks_the_named_space_or_the_default_and_refuses_anything_else(alice, bob):
    work = services.space_create(user=alice, name="Work")
    bobs = services.space_default(user=bob)

    assert space_pick(user=alice, raw=None) == services.space_default(user=alice)
    assert space_pick(user=alice, raw="") == services.space_default(user=alice)
    assert space_pick(user=alice, raw=str(work.pk)) == work
    for raw in (bobs.pk, "nope", 0, True, "all"):
        with pytest.raises(NotFound, match="space not found"):
            space_pick(user=alice, raw=raw)
    assert spaces_pick(user=alice, raw="ALL") == [services.space_default(user=alice), work]


def test_a_token_picks_its_default_and_only_its_spaces(alice):
    work = services.space_create(user=alice, name="Work")
    home = services.space_create(user=alice, name="Home")
    token = services.access_token_create(user=alice, name="t", spaces=[home.pk, work.pk]).token

    assert token.default_space == work  # the older of the two: neither is the person's default
    assert space_pick(user=alice, raw=None, token=token) == work
    assert space_pick(user=alice, raw=home.pk, token=token) == home
    with pytest.raises(NotFound):
        space_pick(user=alice, raw=services.space_default(user=alice).pk, token=token)
    assert spaces_pick(user=alice, raw="all", token=token) == [work, home]


def test_space_names_are_trimmed_unique_whatever_the_case_and_not_blank(alice):
    services.space_create(user=alice, name="  Side   project ")

    assert Space.objects.filter(user=alice, name="Side project").exists()
    with pytest.raises(Conflict):
        services.space_create(user=alice, name="SIDE PROJECT")
    with pytest.raises(InvalidInput):
        services.space_create(user=alice, name="   ")
    other = make_user("erin")
    assert services.space_create(user=other, name="Side project").user == other  # per person


def test_it_makes_a_token_for_chosen_spaces_and_lists_them(alice, alice_client):
    work = services.space_create(user=alice, name="Work")

    made = alice_client.post("/me/tokens", {"name": "work script", "spaces": [work.pk]}, format="json")

    assert made.status_code == 201
    assert made.json()["spaces"] == [{"id": work.pk, "name": "Work"}]
    assert made.json()["default_space"] == {"id": work.pk, "name": "Work"}
    listed = alice_client.get("/me/tokens").json()
    assert listed[0]["spaces"] == [{"id": work.pk, "name": "Work"}]


def test_a_token_without_spaces_holds_the_default_one(alice, alice_client):
    made = alice_client.post("/me/tokens", {"name": "old style"}, format="json")

    personal = services.space_default(user=alice)
    assert made.json()["spaces"] == [{"id": personal.pk, "name": DEFAULT_SPACE_NAME}]


def test_it_refuses_a_token_for_another_persons_space_or_no_space(alice, alice_client, bob):
    bobs = services.space_default(user=bob)

    assert_error(alice_client.post("/me/tokens", {"name": "x", "spaces": [bobs.pk]}, format="json"), 404, "space")
    assert_error(alice_client.post("/me/tokens", {"name": "x", "spaces": []}, format="json"), 400, "spaces")
    assert_error(alice_client.post("/me/tokens", {"name": "x", "spaces": ["1"]}, format="json"), 400, "spaces")
    assert not alice.access_tokens.exists()
