"""One Django request served by the MCP SDK's Streamable HTTP transport (an ASGI app), from a sync WSGI worker.

Why this shape: the SDK's transport is ASGI, our server is WSGI (gunicorn gthread). In stateless mode with JSON
responses every MCP request is one self-contained POST answered by one JSON body, so a request can be served
by a fresh ``StreamableHTTPSessionManager`` inside ``async_to_sync`` and its answer copied into an
``HttpResponse``: no session kept between requests or workers, no stream left open to hold a worker thread.
The manager routes each request by its ``MCP-Protocol-Version`` header: the initialize-handshake revisions
(up to 2025-11-25) through the SDK's stateless transport, the current 2026-07-28 revision (no handshake, one
request per POST) through its single-exchange path.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

# Django already checks Host (ALLOWED_HOSTS), and /mcp takes bearer tokens only, never cookies: a page on another
# origin has no credential to send, so the SDK's DNS-rebinding checks would add nothing but refusals.
_SECURITY = TransportSecuritySettings(enable_dns_rebinding_protection=False)
# Hop-by-hop or recomputed by Django; everything else the SDK answers (Content-Type, Allow) is passed on.
_DROPPED_HEADERS = {b"content-length", b"connection", b"transfer-encoding"}
INVALID_REQUEST = -32600


def asgi_scope(request: HttpRequest, extra: dict[str, Any]) -> dict[str, Any]:
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in request.headers.items()]
    host, _, port = request.get_host().partition(":")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.path.encode("utf-8"),
        "root_path": "",
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "client": (request.META.get("REMOTE_ADDR", ""), 0),
        "server": (host, int(port) if port.isdigit() else (443 if request.is_secure() else 80)),
        "state": {},
        **extra,
    }


async def _serve(server: Server[Any], scope: dict[str, Any], body: bytes) -> tuple[int, list[Any], bytes]:
    manager = StreamableHTTPSessionManager(
        app=server,
        json_response=True,
        stateless=True,
        security_settings=_SECURITY,
        max_request_body_size=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    )
    answered = anyio.Event()
    body_sent = False
    status, headers, chunks = 500, [], []

    async def receive() -> dict[str, Any]:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await answered.wait()  # the client is there until the answer is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                answered.set()

    async with manager.run():
        await manager.handle_request(scope, receive, send)  # type: ignore[arg-type]
    answered.set()
    return status, headers, b"".join(chunks)


def respond(server: Server[Any], request: HttpRequest, *, scope_extra: dict[str, Any]) -> HttpResponse:
    """The SDK's answer to ``request`` as a Django response; its few plain-text refusals become JSON-RPC errors."""
    status, headers, body = async_to_sync(_serve)(server, asgi_scope(request, scope_extra), request.body)
    response = HttpResponse(body, status=status)
    for name, value in headers:
        if name.lower() not in _DROPPED_HEADERS:
            response[name.decode("latin-1")] = value.decode("latin-1")
    if status >= 400 and not response.get("Content-Type", "").startswith("application/json"):
        return _as_jsonrpc_error(response, body)
    return response


def _as_jsonrpc_error(original: HttpResponse, body: bytes) -> HttpResponse:
    message = body.decode("utf-8", "replace").strip() or original.reason_phrase
    error = {"jsonrpc": "2.0", "id": None, "error": {"code": INVALID_REQUEST, "message": message}}
    response = HttpResponse(json.dumps(error), status=original.status_code, content_type="application/json")
    if original.has_header("Allow"):
        response["Allow"] = original["Allow"]
    return response
