"""OpenAPI (drf-spectacular): the error envelope on every operation, and the two URL trees told apart.

Every endpoint answers errors as ``{"success": false, "error": "..."}``. Rather than relying on each view to
list them, ``EnvelopeAutoSchema`` adds the statuses that every operation of a given shape can return (401
everywhere, 400/413/415 where a body or query is read, 404 where the path names an object, 500 and 503
everywhere). Views declare only the statuses peculiar to them, with ``error_responses(...)``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

API_V1_PREFIX = "/api/v1/"

ERROR_DESCRIPTIONS = {
    400: "Invalid input: the message names the field and the problem; nothing was stored.",
    401: "Missing, expired or invalid bearer token.",
    403: "Not allowed: a user_id that is not the token's user, or a read-only access token sending a write.",
    404: "Not found, or not yours.",
    405: "Method not allowed.",
    409: "Conflicts with what exists: the message says what (a name already taken, the default space).",
    413: "Request body too large: the message gives the limit.",
    415: "Unsupported Content-Type.",
    422: "Idempotency-Key already used with a different request body.",
    429: "Too many requests.",
    500: "Internal server error (a bug; no details are exposed).",
    503: "The database is temporarily unavailable; retry after the Retry-After header's seconds.",
}


class ErrorEnvelope(serializers.Serializer):
    """The one error shape of the whole API (the API contract)."""

    success = serializers.BooleanField(default=False, help_text="Always false on an error.")
    error = serializers.CharField(help_text="What went wrong, readable by a person.")


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """``responses`` entries for ``extend_schema``: the envelope under each of ``codes``."""
    return {code: OpenApiResponse(ErrorEnvelope, description=ERROR_DESCRIPTIONS[code]) for code in codes}


class EnvelopeAutoSchema(AutoSchema):
    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for code in self._implied_error_codes(operation):
            if str(code) not in responses:
                response = OpenApiResponse(ErrorEnvelope, description=ERROR_DESCRIPTIONS[code])
                responses[str(code)] = self._get_response_for_code(response, str(code))
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _implied_error_codes(self, operation: dict[str, Any]) -> list[int]:
        places = {p.get("in") for p in operation.get("parameters", [])}
        codes = [401, 500, 503]
        token_auth = any("personalToken" in scheme for scheme in operation.get("security", []))
        if token_auth and self.method not in ("GET", "HEAD", "OPTIONS"):
            codes.append(403)  # a read-only personal access token (accounts.permissions.TokenScopePermission)
        if "requestBody" in operation:
            codes += [400, 413, 415]
        elif "query" in places:
            codes.append(400)
        if "path" in places:
            codes.append(404)
        if any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])):
            codes.append(422)
        if self._is_rate_limited():
            codes.append(429)
        return sorted(codes)

    def _is_rate_limited(self) -> bool:
        """Counted by the daily quota (views say so with ``daily_quota = True``), throttled (the per-user burst
        limit of DEFAULT_THROTTLE_CLASSES, unless the view opts out) or wrapped in a burst limit: 429 is a
        documented answer."""
        if getattr(self.view, "daily_quota", False) or self.view.get_throttles():
            return True
        handler = getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)
        return bool(getattr(handler, "burst_limited", False))

    def get_operation_id(self) -> str:
        # Each endpoint is served twice (root path and /api/v1/); operation ids must stay unique.
        operation_id = super().get_operation_id()
        if self.method == "DELETE" and "{" not in self.path:
            operation_id += "_all"  # DELETE on a collection (e.g. /memories/) is not DELETE of one item
        if self.path.startswith(API_V1_PREFIX):
            return operation_id
        return f"unversioned_{operation_id}"

    def get_tags(self) -> list[str]:
        if self.path.startswith(API_V1_PREFIX):
            return super().get_tags()
        return ["unversioned (root paths, used by the browser extension)"]


def optional_slash_paths(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """PREPROCESSING_HOOK: document ``^save-prompt/?$`` as /save-prompt (the contract's spelling), not /save-prompt/."""
    return [
        (path[:-1] if regex.endswith("/?$") and path.endswith("/") else path, regex, *rest)
        for path, regex, *rest in endpoints
    ]
