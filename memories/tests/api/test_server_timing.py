"""Server-Timing on the hot paths: each phase of /context and of a save is reported."""

from __future__ import annotations

import re

import pytest

from memories.tests.factories import save
from testkit import client_for

pytestmark = pytest.mark.django_db


def phases(response) -> dict[str, float]:
    return {m[1]: float(m[2]) for m in re.finditer(r"(\w+);dur=([\d.]+)", response["Server-Timing"])}


def test_context_reports_each_phase_of_the_request(alice):
    save(alice, "I adopted a golden retriever named Max.")
    response = client_for(alice).get(f"/context/{alice.pk}", {"query": "what is my dog called?"})
    timing = phases(response)
    assert {"auth", "quota", "embed", "search", "total"} <= set(timing)
    assert all(ms >= 0 for ms in timing.values())
    assert timing["total"] >= timing["embed"] + timing["search"]


def test_a_save_reports_its_look_and_store(alice):
    response = client_for(alice).post("/save-prompt", {"prompt": "My cat is Miso."}, format="json")
    assert {"auth", "quota", "look", "embed", "store", "total"} <= set(phases(response))


def test_every_response_has_a_total_even_an_error(anon_client):
    assert "total" in phases(anon_client.get("/no/such/page"))
