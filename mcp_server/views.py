"""POST /mcp: the MCP endpoint (Streamable HTTP, JSON-RPC 2.0), for a personal access token, a connected app's
OAuth access token (docs/oauth.md) or a JWT."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import (
    OAuthTokenAuthentication,
    PersonalTokenAuthentication,
    SupabaseJWTAuthentication,
    UserJWTAuthentication,
    request_user,
)
from accounts.oauth import bearer_challenge
from accounts.permissions import access_token_of
from core.db_routing import request_writes
from mcp_server import bridge
from mcp_server.server import CALLER_SCOPE_KEY, server
from mcp_server.tools import READ_TOOLS, Caller


class McpView(APIView):
    """Authentication and the per-user burst limit are the API's (401 and 429 in the envelope); the JSON-RPC
    exchange is the SDK's. The token's scope is checked by each tool (a read token lists and searches but
    cannot save or forget), not on the HTTP method: every MCP message is a POST. Only POST: in stateless mode
    there is no server-to-client stream to GET and no session to DELETE (405, as the transport allows).

    A 401 carries the RFC 9728 challenge (``WWW-Authenticate: Bearer resource_metadata="…"``) from which an MCP
    client finds the authorization server. When the token store cannot be read the answer is 503 with
    Retry-After (core.errors), never 401: a 401 makes a client throw the person's connection away."""

    authentication_classes = [
        PersonalTokenAuthentication,
        OAuthTokenAuthentication,
        SupabaseJWTAuthentication,
        UserJWTAuthentication,
    ]
    permission_classes = [IsAuthenticated]
    parser_classes: list[Any] = []  # the SDK reads the raw body

    def get_authenticate_header(self, request: Request) -> str:
        return bearer_challenge(request._request)

    def handle_exception(self, exc: Exception) -> Response:
        response: Response = super().handle_exception(exc)
        if response.status_code == 401 and isinstance(exc, exceptions.AuthenticationFailed):
            response["WWW-Authenticate"] = bearer_challenge(self.request._request, error="invalid_token")
        return response

    @extend_schema(exclude=True)  # JSON-RPC, documented in docs/mcp.md, not an OpenAPI operation
    def post(self, request: Request) -> HttpResponse:
        token = access_token_of(request)
        caller = Caller(user=request_user(request), can_write=token is None or token.can_write, token=token)
        request_writes(request, may_write(request._request.body))
        return bridge.respond(server, request._request, scope_extra={CALLER_SCOPE_KEY: caller})


def may_write(body: bytes) -> bool:
    """Whether this JSON-RPC message may change the person's memories: only a call of a tool that writes. Anything
    unreadable counts as a write (recording a write position is only ever a few reads on the primary)."""
    try:
        message = json.loads(body)
    except ValueError:
        return True
    if not isinstance(message, dict):
        return True
    if message.get("method") != "tools/call":
        return False  # initialize, tools/list, ping, notifications
    params = message.get("params")
    return not (isinstance(params, dict) and params.get("name") in READ_TOOLS)
