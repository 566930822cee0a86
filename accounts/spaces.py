"""Which space a request (or an MCP tool call) acts on: the one resolver every path uses (docs/spaces.md).

A request names its space, in this order, by the body field ``space`` (writes), the query parameter ``space``
(reads) or the ``X-Memory-Space`` header (what the extension sends); a value that is absent, null or empty names
none, and then the person's default space is used, or, with a personal access token (or a connected app's OAuth
token, whose spaces the person chose on the consent page), the token's default space (never all of its spaces).
Fail closed: an id that is malformed, unknown, another person's, or outside the token's spaces is the same
"space not found" (404), and nothing is read or stored.

Reads that can span spaces (listing, export, delete-all) also take ``all``: every space of the person, or every
space of the token.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from accounts.authentication import request_user
from accounts.models import PersonalAccessToken, Space, User
from accounts.oauth import OAuthAccess
from accounts.permissions import access_token_of
from accounts.selectors import space_get
from accounts.services import space_default
from core.exceptions import NotFound

SPACE_FIELD = "space"
SPACE_HEADER = "X-Memory-Space"
ALL_SPACES = "all"
SPACE_NOT_FOUND = "space not found"
NO_SPACE_LEFT = (
    "space not found: every space this token could use was deleted; make a new token, or connect the app again"
)
_MAX_ID = 2**63 - 1  # bigint: a larger number could never be an id, and must not reach the query as an error


def space_id_parse(raw: Any) -> int | None:
    """The space id ``raw`` names (an integer, or its decimal digits as a string), or None when malformed."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        value = int(raw.strip())
    else:
        return None
    return value if 0 < value <= _MAX_ID else None


def _absent(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _is_all(raw: Any) -> bool:
    return isinstance(raw, str) and raw.strip().lower() == ALL_SPACES


def space_pick(*, user: User, raw: Any, token: PersonalAccessToken | OAuthAccess | None = None) -> Space:
    """The one space ``raw`` names for ``user`` (and ``token``, when the caller holds one); see the module."""
    if _absent(raw):
        return _default(user=user, token=token)
    space_id = space_id_parse(raw)
    if space_id is None:
        raise NotFound(SPACE_NOT_FOUND)
    if token is not None:
        space = next((s for s in token.held_spaces() if s.pk == space_id), None)
    else:
        space = space_get(user=user, space_id=space_id)
    if space is None or space.user_id != user.pk:
        raise NotFound(SPACE_NOT_FOUND)
    return space


def spaces_pick(*, user: User, raw: Any, token: PersonalAccessToken | OAuthAccess | None = None) -> list[Space]:
    """Like space_pick, and ``all`` names every space the caller may use (the person's, or the token's)."""
    if not _is_all(raw):
        return [space_pick(user=user, raw=raw, token=token)]
    if token is not None:
        return sorted(token.held_spaces(), key=lambda s: s.pk)
    space_default(user=user)
    return list(Space.objects.filter(user=user).order_by("pk"))


def _default(*, user: User, token: PersonalAccessToken | OAuthAccess | None) -> Space:
    if token is None:
        return space_default(user=user)
    space = token.default_space
    if space is None:  # every space the token held was deleted: it reaches nothing any more
        raise NotFound(NO_SPACE_LEFT)
    return space


def requested_space(request: Request, *, body: Any = None) -> Any:
    """The raw space a request names: the body's ``space``, else ``?space=``, else the header; None for none."""
    if isinstance(body, dict) and not _absent(body.get(SPACE_FIELD)):
        return body[SPACE_FIELD]
    query = request.query_params.get(SPACE_FIELD)
    if not _absent(query):
        return query
    header = request.headers.get(SPACE_HEADER)
    return None if _absent(header) else header


def space_named_by_request(request: Request, *, body: Any = None) -> Space | None:
    """Like space_for_request, but None when the request names no space and carries no access token: the person's
    default space, which the save and the search statements look up themselves (no statement of its own on the
    seed's hot paths)."""
    raw = requested_space(request, body=body)
    token = access_token_of(request)
    if _absent(raw) and token is None:
        return None
    return space_pick(user=request_user(request), raw=raw, token=token)


def space_for_request(request: Request, *, body: Any = None) -> Space:
    """The space an authenticated request acts on (see the module); NotFound (404) when it names none of its own."""
    return space_pick(
        user=request_user(request), raw=requested_space(request, body=body), token=access_token_of(request)
    )


def spaces_for_request(request: Request, *, body: Any = None) -> list[Space]:
    """Like space_for_request, and ``all`` names every space the caller may use."""
    return spaces_pick(
        user=request_user(request), raw=requested_space(request, body=body), token=access_token_of(request)
    )
