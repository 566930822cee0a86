"""Logging plumbing: a request id on every line, secrets scrubbed from every line, optional JSON output.

The filters sit on handlers (not loggers) so that records propagated from any logger pass through them; the
gunicorn logger class below applies the same rules to gunicorn's own access and error logs.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
from datetime import UTC, datetime
from typing import Any

from gunicorn.glogging import Logger as _GunicornLogger

from core.redaction import redact as redact_stored_text

# Set by RequestIdMiddleware. Deliberately not reset when the middleware returns: Django logs the response
# status and gunicorn writes the access line after that, in the same thread, and both should carry the id.
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

REDACTED = "[REDACTED]"
# Only what is peculiar to logs. Every secret the storage redactor (core.redaction) knows is taken out by it first;
# these add what a log line carries and a person's text does not (credential headers, query-string keys, our own
# sign-in links), and catch tokens more loosely than storage may: a false positive in a log costs nothing, in a
# stored memory it would change what the person said.
_SECRET_PARAMS = r"admin_key|api_key|access_token|refresh_token|token|password|secret"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Authorization header values of any scheme and length (storage wants a long, random Bearer token).
    (re.compile(r"(?i)\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    # Anything shaped like a JWT, even truncated (storage wants a whole one whose header decodes).
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    # One-time web sign-in links (/app/login/link/<token>): valid for minutes, but a log line outlives that.
    (re.compile(r"(/login/link/)[^\s\"'?#]+"), rf"\1{REDACTED}"),
    # key=value pairs in query strings, form bodies and repr()s.
    (re.compile(rf"(?i)\b({_SECRET_PARAMS})=[^&\s\"',;]+"), rf"\1={REDACTED}"),
    # Header-like "X-Admin-Key: value" / "'authorization': 'value'" (dict reprs, header dumps).
    (
        re.compile(
            r"(?i)\b(x-admin-key|http_x_admin_key|authorization|http_authorization)([\"']?\s*[:=]\s*[\"']?)"
            r"(?!(?:Bearer|Basic|Token)\s|\[REDACTED)[^\"',\s}]+"
        ),
        rf"\1\2{REDACTED}",
    ),
]
_SECRET_HEADERS = ("authorization", "x-admin-key", "cookie", "set-cookie", "proxy-authorization")
# gunicorn atoms name request headers "{name}i", response headers "{name}o" and environ keys "{http_name}e".
_SECRET_ATOMS = frozenset(
    [f"{{{h}}}i" for h in _SECRET_HEADERS]
    + [f"{{{h}}}o" for h in _SECRET_HEADERS]
    + [f"{{http_{h.replace('-', '_')}}}e" for h in _SECRET_HEADERS]
)


def redact(text: str) -> str:
    """A log line without secrets: the storage redactor's (``[REDACTED:<kind>]``), then the log-only rules."""
    text = redact_stored_text(text).text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (``-`` outside a request) unless the caller already passed one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class RedactingFilter(logging.Filter):
    """Rewrites the message (and any traceback) with secrets replaced, before any formatter sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string still gets logged, verbatim but scrubbed
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (LOG_FORMAT=json), for log search on Render or any aggregator."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        body.update(getattr(record, "fields", {}))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            body["exception"] = record.exc_text
        return json.dumps(body, default=str)


class GunicornLogger(_GunicornLogger):
    """gunicorn's logger with the same request id, redaction and JSON switch as Django's logs.

    The access line never prints a query string's secret (``admin_key=...``) or a credential header, whatever
    ``access_log_format`` asks for: every atom is scrubbed before formatting.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        json_output = os.environ.get("LOG_FORMAT", "plain") == "json"
        for log in (self.error_log, self.access_log):
            for handler in [h for h in log.handlers if getattr(h, "_gunicorn", False)]:
                handler.addFilter(RequestIdFilter())
                handler.addFilter(RedactingFilter())
                if json_output:
                    handler.setFormatter(JsonFormatter())

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if key in _SECRET_ATOMS:
                atoms[key] = REDACTED
            elif isinstance(value, str):
                atoms[key] = redact(value)
        return atoms

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        fields = {
            "method": atoms["m"],
            "path": atoms["U"],
            "status": atoms["s"],
            "bytes": atoms["b"],
            "duration_ms": atoms["M"],
            "remote_addr": atoms["h"],
        }
        extra = {"request_id": atoms["{x-request-id}o"], "fields": fields}
        try:
            self.access_log.info(self.cfg.access_log_format, atoms, extra=extra)
        except Exception:
            self.exception("access log line failed")
