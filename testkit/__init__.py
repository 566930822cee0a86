"""Helpers shared by every test package: personas' users and clients, the error-envelope assertion, and threads
released together for race tests. The fixtures themselves are in the root conftest.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import connection

if TYPE_CHECKING:
    from rest_framework.test import APIClient

    from accounts.models import User

T = TypeVar("T")
# The Django imports stay inside the functions: testkit.processes is imported by benchmark scripts before Django
# is set up, and importing it runs this package first.


def make_user(username: str, **extra: object) -> User:
    from accounts.models import User

    return User.objects.create_user(
        username=username, email=f"{username}@example.com", password="pw-" + username, **extra
    )


def client_for(user: User | None) -> APIClient:
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def assert_error(response: Any, status: int, fragment: str) -> None:
    """The API's error envelope with this status, and an error message that says ``fragment``."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False
    assert fragment.lower() in body["error"].lower(), body["error"]


def concurrently(count: int, request: Callable[[int], T], *, timeout: float = 30) -> list[T]:
    """``request(i)`` from ``count`` threads released together; each thread closes its database connection."""
    barrier = threading.Barrier(count)

    def one(i: int) -> T:
        try:
            barrier.wait(timeout=timeout)
            return request(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def run_queued_jobs(task_name: str | None = None) -> int:
    """Run the queue's waiting jobs here, in the test's transaction, with the task functions the worker runs.

    The worker itself (its own connections, fetching, retries, a SIGKILL mid-batch) is tested against committed
    data in memories/tests/queue/; this is for API tests that only need a job's effect.
    """
    from procrastinate.contrib.django import app

    ran = 0
    app.perform_import_paths()
    while True:  # in the worker's order; the jobs these jobs queue (an import's next turns) run too
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, task_name, args FROM procrastinate_jobs"
                " WHERE status = 'todo' AND (%s::text IS NULL OR task_name = %s) ORDER BY priority DESC, id LIMIT 1",
                [task_name, task_name],
            )
            waiting = cursor.fetchone()
        if waiting is None:
            break
        job_id, name, args = waiting
        app.tasks[name](**(json.loads(args) if isinstance(args, str) else args))
        with connection.cursor() as cursor:
            cursor.execute("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = %s", [job_id])
        ran += 1
    return ran
