"""The OAuth dance of an MCP client, step by step over plain HTTP (Django's test client): register, authorize with
PKCE as a signed-in person, consent, exchange the code, refresh, revoke. Each step returns the raw response or
the values the next step needs, so tests can stop anywhere and try a refusal."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

REDIRECT_URI = "http://127.0.0.1:33418/callback"
RESOURCE = "http://testserver/mcp"


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str


def signed_in(user: Any) -> Any:
    """A Django test client signed in as ``user`` (the person on the consent page)."""
    from django.test import Client

    browser = Client()
    browser.force_login(user)
    return browser


def bearer(token: str) -> Any:
    """A Django test client that sends ``token`` as its bearer credential."""
    from django.test import Client

    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def pkce() -> Pkce:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return Pkce(verifier=verifier, challenge=base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


def register(client: Any, *, redirect_uri: str = REDIRECT_URI, name: str = "Test connector", **extra: Any) -> Any:
    metadata = {
        "client_name": name,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        **extra,
    }
    return client.post("/oauth/register/", metadata, content_type="application/json")


def client_id(client: Any, **kwargs: Any) -> str:
    response = register(client, **kwargs)
    assert response.status_code == 201, response.content
    return str(response.json()["client_id"])


def authorize_url(
    cid: str,
    challenge: str,
    *,
    redirect_uri: str = REDIRECT_URI,
    scope: str = "read write",
    method: str = "S256",
    resource: str = RESOURCE,
) -> str:
    query = {
        "response_type": "code",
        "client_id": cid,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": "st4te",
        "code_challenge": challenge,
        "code_challenge_method": method,
        "resource": resource,
    }
    return "/app/oauth/authorize/?" + urlencode(query)


def consent_fields(page: Any) -> dict[str, Any]:
    """The consent form's values as the page rendered them (its hidden fields and the preselected choices)."""
    form = page.context["form"]
    fields: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if name != "allow" and value:
            fields[name] = [str(v) for v in value] if isinstance(value, list | tuple) else str(value)
    return fields


def consent(
    browser: Any, url: str, *, access: str | None = None, spaces: list[int] | None = None, allow: bool = True
) -> Any:
    """GET the consent page as the signed-in ``browser``, then answer it; the redirect back to the app."""
    page = browser.get(url)
    assert page.status_code == 200, page.content
    fields = consent_fields(page)
    if access:
        fields["access"] = access
    if spaces is not None:
        fields["spaces"] = [str(space_id) for space_id in spaces]
    if allow:
        fields["allow"] = "on"
    return browser.post("/app/oauth/authorize/", fields)


def code_of(redirect: Any) -> str:
    assert redirect.status_code == 302, redirect.content
    query = parse_qs(urlsplit(redirect["Location"]).query)
    assert query["state"] == ["st4te"], query
    return query["code"][0]


def exchange(
    client: Any, cid: str, code: str, verifier: str, *, redirect_uri: str = REDIRECT_URI, resource: str = RESOURCE
) -> Any:
    data = {
        "grant_type": "authorization_code",
        "client_id": cid,
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": redirect_uri,
        "resource": resource,
    }
    return client.post("/oauth/token/", urlencode(data), content_type="application/x-www-form-urlencoded")


def refresh(client: Any, cid: str, refresh_token: str) -> Any:
    data = {"grant_type": "refresh_token", "client_id": cid, "refresh_token": refresh_token}
    return client.post("/oauth/token/", urlencode(data), content_type="application/x-www-form-urlencoded")


def revoke(client: Any, cid: str, token: str) -> Any:
    data = {"client_id": cid, "token": token}
    return client.post("/oauth/revoke/", urlencode(data), content_type="application/x-www-form-urlencoded")


@dataclass(frozen=True)
class Connected:
    client_id: str
    access_token: str
    refresh_token: str
    scope: str


def connect(
    client: Any, browser: Any, *, access: str = "write", name: str = "Test connector", spaces: list[int] | None = None
) -> Connected:
    """The whole dance for the person signed in on ``browser``: a connected app and its tokens."""
    cid = client_id(client, name=name)
    pair = pkce()
    code = code_of(consent(browser, authorize_url(cid, pair.challenge), access=access, spaces=spaces))
    tokens = exchange(client, cid, code, pair.verifier)
    assert tokens.status_code == 200, tokens.content
    body = tokens.json()
    return Connected(cid, body["access_token"], body["refresh_token"], body["scope"])
