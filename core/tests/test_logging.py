"""Request ids on every log line and in the response; secrets never in the logs; JSON logs on demand."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from core.logs import GunicornLogger, JsonFormatter, RedactingFilter, redact

SENTINEL_KEY = "sentinel-admin-key-5f2c9a"


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the configured console handler (settings.LOGGING) writes, captured."""
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RedactingFilter) for f in h.filters))
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_it_generates_a_request_id_and_puts_it_on_the_requests_log_lines(client, log_output):
    response = client.get("/context/someone?query=x")
    request_id = response["X-Request-ID"]
    assert response.status_code == 401
    assert str(uuid.UUID(request_id)) == request_id
    assert f"WARNING django.request [{request_id}] Unauthorized: /context/someone" in log_output.getvalue()


def test_it_keeps_a_sane_incoming_request_id(client):
    response = client.get("/health", HTTP_X_REQUEST_ID="render-abc123-def456")
    assert response["X-Request-ID"] == "render-abc123-def456"


@pytest.mark.parametrize("incoming", ["short", "x" * 65, "evil\nINFO forged line", "id with spaces 123"])
def test_it_replaces_an_unsafe_incoming_request_id(client, incoming):
    response = client.get("/health", HTTP_X_REQUEST_ID=incoming)
    assert response["X-Request-ID"] != incoming
    assert uuid.UUID(response["X-Request-ID"])


@pytest.mark.django_db
def test_tokens_and_admin_keys_never_reach_the_logs(client, alice, log_output):
    token = str(AccessToken.for_user(alice))
    expired = AccessToken.for_user(alice)
    expired.set_exp(lifetime=-timedelta(minutes=1))
    url = f"/context/{alice.pk}?query=x&admin_key={SENTINEL_KEY}"
    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {expired}")
    assert response.status_code == 401
    # What careless code would print: the full URL, the headers, a token in an error message.
    logger = logging.getLogger("memories.api")
    logger.warning("request %s headers=%s", url, {"Authorization": f"Bearer {token}", "X-Admin-Key": SENTINEL_KEY})
    logger.warning("could not verify %s", token)
    try:
        raise ValueError(f"bad key admin_key={SENTINEL_KEY} token {token}")
    except ValueError:
        logger.exception("failed")
    output = log_output.getvalue()
    assert "Unauthorized" in output and "Traceback" in output and "[REDACTED]" in output
    for secret in (SENTINEL_KEY, token, str(expired), token.split(".")[1]):
        assert secret not in output


def test_json_logs_are_one_object_per_line_with_the_request_id():
    record = logging.LogRecord("memories", logging.INFO, __file__, 1, "saved %s chunks", (3,), None)
    record.request_id = "req-12345678"
    line = JsonFormatter().format(record)
    body = json.loads(line)
    assert "\n" not in line
    assert body["message"] == "saved 3 chunks" and body["request_id"] == "req-12345678"
    assert body["level"] == "INFO" and body["logger"] == "memories" and body["time"].endswith("+00:00")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer [REDACTED]"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [REDACTED]"),
        ("GET /admin/dashboard?x=1&admin_key=s3cret&y=2", "GET /admin/dashboard?x=1&admin_key=[REDACTED]&y=2"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln end", "token [REDACTED] end"),
        ("{'x-admin-key': 'abc123'}", "{'x-admin-key': '[REDACTED]'}"),
        ("saved 3 chunks for user 42", "saved 3 chunks for user 42"),
    ],
)
def test_it_redacts_credentials_and_nothing_else(text, expected):
    assert redact(text) == expected


def _gunicorn_logger(fmt: str, monkeypatch: pytest.MonkeyPatch, log_format: str = "plain") -> GunicornLogger:
    from gunicorn.config import Config

    monkeypatch.setenv("LOG_FORMAT", log_format)
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", fmt)
    return GunicornLogger(cfg)


def _access_line(logger: GunicornLogger) -> str:
    stream = io.StringIO()
    for handler in logger.access_log.handlers:
        if getattr(handler, "_gunicorn", False):  # not pytest's capture handlers
            handler.setStream(stream)  # type: ignore[attr-defined]
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/admin/dashboard?admin_key={SENTINEL_KEY}",
        "PATH_INFO": "/admin/dashboard",
        "QUERY_STRING": f"admin_key={SENTINEL_KEY}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.1",
        "HTTP_AUTHORIZATION": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
    }
    request = SimpleNamespace(headers=[("AUTHORIZATION", environ["HTTP_AUTHORIZATION"]), ("X-ADMIN-KEY", SENTINEL_KEY)])
    response = SimpleNamespace(status="200 OK", sent=17, headers=[("X-Request-ID", "rid-12345678")])
    logger.access(response, request, environ, timedelta(milliseconds=12))
    return stream.getvalue()


def test_the_gunicorn_access_log_never_prints_secrets_even_if_its_format_asks(monkeypatch):
    greedy = "%(r)s %(q)s %({authorization}i)s %({x-admin-key}i)s %({http_authorization}e)s rid=%({x-request-id}o)s"
    line = _access_line(_gunicorn_logger(greedy, monkeypatch))
    assert SENTINEL_KEY not in line and "eyJ" not in line
    assert line.startswith("GET /admin/dashboard?admin_key=[REDACTED] HTTP/1.1 admin_key=[REDACTED] [REDACTED]")
    assert line.rstrip().endswith("rid=rid-12345678")


def test_the_gunicorn_access_log_can_be_json(monkeypatch):
    from gunicorn.config import Config

    fmt = Config().access_log_format
    line = _access_line(_gunicorn_logger(fmt, monkeypatch, log_format="json"))
    body = json.loads(line)
    assert body["logger"] == "gunicorn.access" and body["request_id"] == "rid-12345678"
    assert (body["method"], body["path"], body["status"], body["duration_ms"]) == ("GET", "/admin/dashboard", "200", 12)
    assert SENTINEL_KEY not in line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The storage redactor's kinds reach the logs too: one list of secret formats, kept in core.redaction.
        ("user pasted sk-ant-api03-" + "a1B2" * 10 + " by mistake", "user pasted [REDACTED:anthropic_key] by mistake"),
        ("retrying with ghp_" + "tfjgVvVqE1SkHbn88HxjSI6bWHtP3fS2qHx6", "retrying with [REDACTED:github_token]"),
        ("DB_PASSWORD=hunter2x in env", "DB_PASSWORD=[REDACTED:password] in env"),
        # ... and the log-only rules still apply on top.
        ("GET /app/login/link/abcDEF123 200", "GET /app/login/link/[REDACTED] 200"),
    ],
)
def test_log_scrubbing_uses_the_storage_redactor_and_adds_log_rules(text, expected):
    assert redact(text) == expected
