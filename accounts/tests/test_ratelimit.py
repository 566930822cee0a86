from __future__ import annotations

import pytest
from django.test import RequestFactory
from django_ratelimit.exceptions import Ratelimited

from accounts.ratelimit import _describe, forwarded_client_ip
from core.errors import api_exception_handler

GOOD = {"username": "carol", "email": "carol@example.com", "password": "plum-orbit-tandem-42"}


@pytest.mark.parametrize(
    ("rate", "text"),
    [("10/m", "10 per minute"), ("120/m", "120 per minute"), ("5/s", "5 per second"), ("100/12h", "100 per 12 hours")],
)
def test_it_describes_rates_for_people(rate, text):
    assert _describe(rate) == text


@pytest.mark.parametrize(
    ("forwarded", "hops", "expected"),
    [
        ("", 1, "10.0.0.1"),
        ("198.51.100.7", 1, "198.51.100.7"),
        ("6.6.6.6, 198.51.100.7", 1, "198.51.100.7"),  # the client wrote 6.6.6.6 itself
        ("6.6.6.6, 198.51.100.7, 10.1.1.1", 2, "198.51.100.7"),
        ("198.51.100.7", 2, "10.0.0.1"),
    ],
)
def test_it_takes_the_client_address_the_trusted_proxy_saw(settings, forwarded, hops, expected):
    settings.RATELIMIT_TRUSTED_PROXIES = hops
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="10.0.0.1")
    assert forwarded_client_ip(request) == expected


@pytest.mark.django_db
def test_it_limits_per_forwarded_client_behind_a_proxy(anon_client, settings):
    settings.RATELIMIT_IP_META_KEY = "accounts.ratelimit.forwarded_client_ip"
    settings.RATELIMIT_AUTH_RATE = "1/m"

    def register(name: str, client_ip: str):
        body = {**GOOD, "username": name}
        return anon_client.post("/auth/register", body, format="json", HTTP_X_FORWARDED_FOR=f"1.2.3.4, {client_ip}")

    assert register("u1", "198.51.100.1").status_code == 201
    assert register("u2", "198.51.100.1").status_code == 429
    assert register("u3", "198.51.100.2").status_code == 201


def test_django_ratelimits_own_exception_becomes_a_429_envelope():
    response = api_exception_handler(Ratelimited(), {})
    assert response is not None and response.status_code == 429
    assert response.data["success"] is False


@pytest.mark.django_db
def test_it_limits_every_api_view_per_user_by_default(alice_client, settings):
    settings.RATELIMIT_API_RATE = "2/m"
    statuses = [alice_client.get("/memories/").status_code, alice_client.get("/auth/me").status_code]
    limited = alice_client.get("/memories/")  # one bucket per user across the endpoints
    assert statuses == [200, 200]
    assert limited.status_code == 429 and limited.json()["success"] is False
    assert "2 per minute" in limited.json()["error"] and 1 <= int(limited["Retry-After"]) <= 60


@pytest.mark.django_db
def test_the_import_poll_and_options_opt_out_of_the_burst_limit(alice_client, settings):
    settings.RATELIMIT_API_RATE = "1/m"
    assert alice_client.get("/auth/me").status_code == 200
    assert alice_client.options("/auth/me").status_code == 200
    assert alice_client.get("/memories/import/999999").status_code == 404  # not 429: the poll is not limited
    assert alice_client.get("/auth/me").status_code == 429
