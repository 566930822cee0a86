"""health_score's checks and GET /ready."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test import override_settings
from django.utils import timezone

from dashboard import health, selectors, services
from memories.embedding import embeddings

pytestmark = pytest.mark.django_db


@pytest.fixture
def model_loaded() -> None:
    embeddings.get_model()


def _record(status: int, latency_ms: float, times: int = 1) -> None:
    for _ in range(times):
        services.request_record(endpoint="context", method="GET", status=status, latency_ms=latency_ms, user_id=None)


def test_a_healthy_process_scores_100_and_the_pgvector_index_check_is_not_counted(model_loaded):
    _record(200, 30, times=10)
    checks = selectors.health_checks()
    assert [(c.name, c.ok, c.skipped) for c in checks] == [
        ("database", True, False),
        ("embedding_model", True, False),
        ("search_index", True, True),
        ("error_rate", True, False),
        ("p95_latency", True, False),
    ]
    assert selectors.health_score(checks) == 100


def test_server_errors_over_the_limit_cost_their_weight(model_loaded, settings):
    settings.HEALTH_MAX_ERROR_RATE = 0.05
    _record(200, 30, times=9)
    _record(500, 30)
    checks = selectors.health_checks()
    error_rate = next(c for c in checks if c.name == "error_rate")
    assert not error_rate.ok and error_rate.detail == "1 of 10 requests answered 5xx (limit 5%)"
    assert selectors.health_score(checks) == round(100 * (30 + 20 + 15) / 80)


def test_a_slow_p95_costs_its_weight(model_loaded, settings):
    settings.HEALTH_MAX_P95_MS = 500
    _record(200, 30, times=90)
    _record(200, 4000, times=10)
    checks = selectors.health_checks()
    assert not next(c for c in checks if c.name == "p95_latency").ok
    assert selectors.health_score(checks) == round(100 * 65 / 80)


def test_traffic_older_than_the_last_hour_is_not_judged(model_loaded):
    two_hours_ago = timezone.now() - timedelta(hours=2, minutes=1)
    services.request_record(
        endpoint="context", method="GET", status=500, latency_ms=9000, user_id=None, at=two_hours_ago
    )
    assert selectors.health_score(selectors.health_checks()) == 100


def test_a_faiss_index_out_of_sync_costs_its_weight(model_loaded):
    checks = selectors.health_checks(index_status={"backend": "faiss", "state": "stale"})
    index = next(c for c in checks if c.name == "search_index")
    assert (index.ok, index.skipped) == (False, False)
    assert selectors.health_score(checks) == 80
    in_sync = selectors.health_checks(index_status={"backend": "faiss", "state": "ok"})
    assert selectors.health_score(in_sync) == 100


def test_an_unreachable_database_fails_its_check(monkeypatch):
    from django.db import connection

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    checks = selectors.health_checks()
    assert [c.name for c in checks] == ["database", "embedding_model"]
    assert checks[0].ok is False and checks[0].detail == "unreachable (OperationalError)"


def test_ready_answers_200_when_the_database_and_model_are_there(client, model_loaded):
    response = client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["checks"]) == ("ready", {"database": "ok", "embedding_model": "ok"})
    idle = {"waiting": 0, "running": 0, "oldest_waiting_seconds": 0.0}
    assert body["queue"] == {**idle, "live": idle, "bulk": idle, "pending_chunks": 0, "reembed": []}
    assert response["Cache-Control"] == "no-store"


def test_ready_shows_the_queues_backlog_and_its_oldest_wait(client, model_loaded, alice, settings):
    from memories import services

    settings.MEMORY_EMBED_INLINE = False
    services.memory_save(user=alice, kind="prompt", provider="claude", text="I keep bees.")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_events SET at = now() - interval '90 seconds' WHERE type = 'deferred'")

    queue = client.get("/ready").json()["queue"]

    assert (queue["waiting"], queue["running"], queue["pending_chunks"]) == (1, 0, 1)
    assert 89 <= queue["oldest_waiting_seconds"] < 200
    assert queue["live"]["waiting"] == 1 and 89 <= queue["live"]["oldest_waiting_seconds"] < 200
    assert queue["bulk"] == {"waiting": 0, "running": 0, "oldest_waiting_seconds": 0.0}


def test_ready_shows_live_and_bulk_work_apart_and_a_reembed_run(client, model_loaded, alice, tmp_path, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from memories import services
    from memories.search import indexing
    from memories.transfer import jobs
    from testkit.chat_exports import write_chatgpt_export

    settings.MEMORY_EMBED_INLINE = False
    path = tmp_path / "conversations.json"
    write_chatgpt_export(path, 10)
    jobs.import_job_create(user=alice, upload=SimpleUploadedFile(path.name, path.read_bytes()))
    services.memory_save(user=alice, kind="prompt", provider="claude", text="I keep bees.")
    indexing.reembed_started()
    with connection.cursor() as cursor:  # the import has waited longer than the save
        cursor.execute(
            "UPDATE procrastinate_events e SET at = now() - interval '300 seconds' FROM procrastinate_jobs j"
            " WHERE e.job_id = j.id AND j.queue_name = 'bulk' AND e.type = 'deferred'"
        )

    queue = client.get("/ready").json()["queue"]

    assert (queue["live"]["waiting"], queue["bulk"]["waiting"], queue["waiting"]) == (1, 1, 2)
    assert queue["live"]["oldest_waiting_seconds"] < 60 <= 299 <= queue["bulk"]["oldest_waiting_seconds"]
    assert [(run["scope"], run["chunks"]) for run in queue["reembed"]] == [("all", 0)]


def test_ready_answers_503_while_the_model_loads_in_the_background(client, monkeypatch):
    monkeypatch.setattr(embeddings, "_models", {})  # no backend loaded in this process

    response = client.get("/ready")

    assert response.status_code == 503
    assert response.json() == {
        "success": False,
        "error": "Not ready: embedding_model",
        "checks": {"database": "ok", "embedding_model": "not loaded in this process yet"},
    }
    assert response["Retry-After"] == "5"
    health._loading[0].join()  # the first call started loading the model; once done, ready
    assert client.get("/ready").status_code == 200


def test_ready_works_for_a_probe_over_plain_http_with_an_internal_host(client, model_loaded):
    with override_settings(SECURE_SSL_REDIRECT=True, ALLOWED_HOSTS=["memorylayer.onrender.com"]):
        response = client.get("/ready", HTTP_HOST="10.0.0.7:10000")
    assert response.status_code == 200


def test_ready_refuses_other_methods_with_the_envelope(client):
    response = client.post("/ready")
    assert response.status_code == 405 and response.json() == {"success": False, "error": "Method not allowed"}
