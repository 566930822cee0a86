#!/usr/bin/env python
"""/mcp against the REST endpoints it mirrors, on a running server: what the MCP bridge costs per request.

    MEMORY_LAYER_TOKEN=mlk_... python bench/mcp_latency.py --base-url http://127.0.0.1:8000

The token's person should have a few memories. Each call runs 25 times after one warm-up, one at a time; prints
medians and p90. Counts against that person's daily quota (the /context and search calls). Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import httpx2

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}


def timed(call: Callable[[], httpx2.Response], runs: int) -> list[float]:
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = call()
        times.append(1000 * (time.perf_counter() - started))
        response.raise_for_status()
    return sorted(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--query", default="which editor do I use?")
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    token = os.environ["MEMORY_LAYER_TOKEN"]
    url = args.base_url.rstrip("/")
    with httpx2.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        user_id = client.get(f"{url}/auth/me").json()["user_id"]
        search = {"name": "search_memories", "arguments": {"query": args.query}}
        calls = {
            "GET /context": lambda: client.get(f"{url}/context/{user_id}", params={"query": args.query}),
            "MCP search_memories": lambda: client.post(
                f"{url}/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": search},
                headers=MCP_HEADERS,
            ),
            "GET /auth/me": lambda: client.get(f"{url}/auth/me"),
            "MCP ping": lambda: client.post(
                f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=MCP_HEADERS
            ),
        }
        for name, call in calls.items():
            times = timed(call, args.runs)
            p90 = times[int(0.9 * (len(times) - 1))]
            print(f"{name:22s} median {statistics.median(times):6.1f} ms  p90 {p90:6.1f} ms")


if __name__ == "__main__":
    main()
