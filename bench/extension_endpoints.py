#!/usr/bin/env python
"""Latency of the extension's endpoints over HTTP: GET /extension/adapters (200 and a 304 revalidation) and
POST /extension/health (a batch of reports).

    python bench/extension_endpoints.py                    # gunicorn (1 worker) on a throwaway database, port 8601
    python bench/extension_endpoints.py --base-url http://127.0.0.1:8000   # a running server with the same env

Without extension/adapters/ (before the extension's adapters land) the test fixtures are served. Prints p50/p95/p99
per call and the machine it ran on. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine, make_users, percentiles, server, setup_django, temp_pgdata

FIXTURES = ROOT / "extension_api" / "tests" / "fixtures" / "adapters"
SITES = ("chatgpt", "claude", "gemini", "grok")


def _timed(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None, headers: dict) -> tuple:
    start = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, data, dict(response.getheaders()), (time.perf_counter() - start) * 1000


def _reports(count: int) -> bytes:
    end = datetime.now(UTC).replace(microsecond=0)
    reports = [
        {
            "site": SITES[i % len(SITES)],
            "layout": ("app", "thread", "hub")[i % 3],
            "adapter_version": "2026.10.1",
            "prompts_seen": 5,
            "answers_captured": 4,
            "answers_missing": 1,
            "fallbacks_used": 0,
            "period_start": (end - timedelta(minutes=15)).isoformat(),
            "period_end": end.isoformat(),
        }
        for i in range(count)
    ]
    return json.dumps({"reports": reports}).encode()


def run(args: argparse.Namespace) -> dict:
    if not (ROOT / "extension" / "adapters" / "schema.json").is_file():
        os.environ.setdefault("EXTENSION_ADAPTERS_DIR", str(FIXTURES))
    # The bench measures the endpoints, not their per-address and per-person limits.
    os.environ.setdefault("EXTENSION_ADAPTERS_RATE", "1000000/m")
    os.environ.setdefault("EXTENSION_HEALTH_RATE", "1000000/m")
    setup_django(None if args.base_url else temp_pgdata("bench-extension-pg-"))
    ((_, token),) = make_users(f"bench-ext-{int(time.time())}", 1)
    results: dict = {
        "machine": machine(),
        "adapters_dir": os.environ.get("EXTENSION_ADAPTERS_DIR", "extension/adapters"),
    }
    with server(args.base_url, args.port, args.workers) as url:
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
        status, body, headers, _ = _timed(conn, "GET", "/extension/adapters", None, {})
        assert status == 200, (status, body[:200])
        etag = headers["ETag"]
        results["adapters_body_bytes"] = len(body)
        samples: dict[str, list[float]] = {"adapters_200": [], "adapters_304": [], "health_post": []}
        for _ in range(args.requests):
            status, _, _, ms = _timed(conn, "GET", "/extension/adapters", None, {})
            assert status == 200
            samples["adapters_200"].append(ms)
            status, _, _, ms = _timed(conn, "GET", "/extension/adapters", None, {"If-None-Match": etag})
            assert status == 304
            samples["adapters_304"].append(ms)
        payload = _reports(args.reports)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        for _ in range(args.requests):
            status, body, _, ms = _timed(conn, "POST", "/extension/health", payload, headers)
            assert status == 200, (status, body[:200])
            samples["health_post"].append(ms)
        conn.close()
    results["reports_per_health_post"] = args.reports
    results["latency_ms"] = {name: percentiles(values) for name, values in samples.items()}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url")
    parser.add_argument("--port", type=int, default=None, help="the server's port (default: a free one)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--reports", type=int, default=10)
    print(json.dumps(run(parser.parse_args()), indent=2))


if __name__ == "__main__":
    main()
