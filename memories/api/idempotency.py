"""Idempotent saves: a client may send ``Idempotency-Key`` so that a retry never stores twice.

- Same key, same endpoint and body, within ``IDEMPOTENCY_KEY_TTL``: the first response (status and body) is
  replayed and nothing is stored again; the replay carries ``Idempotent-Replayed: true``.
- Same key with another body (or the other save endpoint): 422.
- Keys belong to one space of one user: bob's key never meets alice's, and the same key sent for alice's Work
  space is another request than for her Personal one (docs/spaces.md).
- Concurrent requests with one key: the first inserts the key row inside its transaction, so the others
  block on the unique (space, key) constraint until it commits, then replay its response. A request that
  fails (bad input, crash) rolls back and leaves no key behind, so a corrected retry may use it.
- Expired keys are dropped when their key is reused and by ``manage.py purge_idempotency_keys``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from accounts.authentication import request_user
from accounts.models import Space, User
from accounts.services import space_default
from accounts.spaces import space_named_by_request
from core.exceptions import InvalidInput, Mismatch
from memories.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Optional, up to 255 printable ASCII characters (a UUID is ideal). A retry with the same key and body "
        "within 24 hours replays the first response without storing again; the same key with a different "
        "body is refused with 422."
    ),
)

Action = TypeVar("Action", bound=Callable[..., Response])


def request_fingerprint(*, endpoint: str, data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), cls=JSONEncoder, ensure_ascii=False)
    return hashlib.sha256(f"{endpoint}\n{canonical}".encode()).hexdigest()


def _valid_key(raw: str) -> str:
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in key):
        raise InvalidInput(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters")
    return key


def _expiry_cutoff() -> datetime:
    return timezone.now() - settings.IDEMPOTENCY_KEY_TTL


def idempotency_keys_purge(*, now: datetime | None = None) -> int:
    """Delete every expired key; returns how many were deleted."""
    cutoff = (now or timezone.now()) - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# Claim a key in one statement: insert it, or take over an expired row; a live row is left alone (no row
# back). A row another transaction inserted and has not committed yet makes this wait for that transaction.
# The space is the one named (already checked to be the caller's) or else the person's default, found here.
_CLAIM_SQL = """
INSERT INTO memories_idempotencykey AS k (user_id, space_id, key, request_hash, created_at)
SELECT %(user_id)s, s.id, %(key)s, %(fingerprint)s, %(now)s FROM accounts_space s
WHERE s.user_id = %(user_id)s AND (s.id = %(space_id)s OR (%(space_id)s::bigint IS NULL AND s.is_default))
ON CONFLICT (user_id, space_id, key) DO UPDATE
    SET request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at,
        response_status = NULL, response_body = NULL
    WHERE k.created_at < %(cutoff)s
RETURNING id
"""


def _claim(*, user: User, space: Space | None, key: str, fingerprint: str) -> tuple[IdempotencyKey, bool]:
    now = timezone.now()
    params: dict[str, Any] = {
        "user_id": user.pk,
        "space_id": space.pk if space is not None else None,
        "key": key,
        "fingerprint": fingerprint,
        "now": now,
        "cutoff": now - settings.IDEMPOTENCY_KEY_TTL,
    }
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, params)
        row = cursor.fetchone()
    if row is None:
        # Another request holds (and has now committed) this key: its response is final.
        where = {"space": space} if space is not None else {"space__user": user, "space__is_default": True}
        held = IdempotencyKey.objects.filter(key=key, **where).first()
        if held is None:  # no row at all: the person has no default space yet (made outside the sign-up paths)
            return _claim(user=user, space=space_default(user=user), key=key, fingerprint=fingerprint)
        return held, False
    record = IdempotencyKey(pk=row[0], user=user, key=key, request_hash=fingerprint, created_at=now)
    record._state.adding = False
    return record, True


def _replay(record: IdempotencyKey, fingerprint: str) -> Response:
    if record.request_hash != fingerprint:
        raise Mismatch(f"This {HEADER} was already used with a different request; use a new key for a new request")
    assert record.response_status is not None  # filled before the claiming transaction committed
    return Response(record.response_body, status=record.response_status, headers={REPLAYED_HEADER: "true"})


def idempotent(action: Action) -> Action:
    """Make a save action honour ``Idempotency-Key`` (see the module docstring); without the header, a no-op."""

    @functools.wraps(action)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        raw = request.headers.get(HEADER)
        if raw is None:
            return action(view, request, *args, **kwargs)
        key = _valid_key(raw)
        fingerprint = request_fingerprint(endpoint=action.__name__, data=request.data)
        space = space_named_by_request(request, body=request.data)  # not the caller's: 404, no key claimed
        with transaction.atomic():
            record, created = _claim(user=request_user(request), space=space, key=key, fingerprint=fingerprint)
            if not created:
                return _replay(record, fingerprint)
            # An error raised by the action (bad input, a crash) rolls the key back with everything else.
            response = action(view, request, *args, **kwargs)
            record.response_status = response.status_code
            record.response_body = json.loads(json.dumps(response.data, cls=JSONEncoder))
            record.save(update_fields=["response_status", "response_body"])
            return response

    return extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])(wrapper)  # type: ignore[return-value]
