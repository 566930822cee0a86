"""The request-metrics middleware and its aggregates: bounded, keyed by route name, never breaking a request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from dashboard import services
from dashboard.models import BUCKET_COUNT, LATENCY_BUCKETS_MS, RequestMetric, UserActivity
from dashboard.selectors import percentile
from extension_api.models import CaptureHealth

pytestmark = pytest.mark.django_db


def test_it_counts_requests_by_route_name_never_by_raw_path(alice_client, alice, bob):
    for path in (f"/context/{alice.pk}", f"/api/v1/context/{alice.pk}", f"/context/{bob.pk}"):
        alice_client.get(path, {"query": "x"})

    rows = list(RequestMetric.objects.values("endpoint", "method", "status_class", "count"))
    assert sorted(rows, key=lambda r: r["status_class"]) == [
        {"endpoint": "context", "method": "GET", "status_class": "2xx", "count": 2},
        {"endpoint": "context", "method": "GET", "status_class": "4xx", "count": 1},
    ]
    assert str(alice.pk) not in repr(list(RequestMetric.objects.values()))


def test_repeated_requests_update_one_row_instead_of_adding_rows(alice_client, alice):
    for _ in range(5):
        assert alice_client.get("/memories/").status_code == 200

    metric = RequestMetric.objects.get()
    assert (metric.endpoint, metric.count) == ("memory-list", 5)
    assert sum(metric.latency_buckets) == 5 and len(metric.latency_buckets) == BUCKET_COUNT
    assert metric.total_ms > 0
    activity = UserActivity.objects.get()
    assert (activity.user_id, activity.requests, activity.day) == (alice.pk, 5, timezone.now().date())


def test_it_counts_unknown_paths_under_one_key_and_skips_probes_and_staff_pages(client, staff):
    client.get("/wp-login.php")
    client.get("/no/such/thing")
    client.get("/health")
    client.get("/ready")
    client.force_login(staff)
    client.get("/dashboard/")
    client.get("/admin/")

    assert list(RequestMetric.objects.values_list("endpoint", "status_class", "count")) == [("(unmatched)", "4xx", 2)]


def test_anonymous_requests_are_counted_without_a_user(client):
    client.get("/memories/")
    assert RequestMetric.objects.get().status_class == "4xx"
    assert not UserActivity.objects.exists()


def test_a_failing_metrics_write_never_breaks_the_request(alice_client, monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("metrics table is gone")

    monkeypatch.setattr(services, "metrics_write", broken)
    response = alice_client.get("/memories/")

    assert response.status_code == 200 and response.json()["count"] == 0
    assert "request metrics not recorded: RuntimeError" in caplog.text


def test_a_database_error_in_the_write_leaves_the_requests_transaction_usable(alice_client, monkeypatch):
    from django.db import connection

    def bad_sql(*args):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(services, "metrics_write", bad_sql)
    assert alice_client.get("/memories/").status_code == 200
    assert RequestMetric.objects.count() == 0  # the test's transaction still works after the failed statement


def test_the_histogram_puts_each_latency_in_its_bucket():
    assert services.bucket_index(0) == 0
    assert services.bucket_index(LATENCY_BUCKETS_MS[0]) == 0
    assert services.bucket_index(LATENCY_BUCKETS_MS[0] + 0.1) == 1
    assert services.bucket_index(LATENCY_BUCKETS_MS[-1] * 10) == BUCKET_COUNT - 1


def test_percentiles_come_from_the_histogram():
    buckets = [0] * BUCKET_COUNT
    buckets[3] = 100  # 100 requests between 25 and 50 ms
    assert percentile(buckets, 0.5) == pytest.approx(37.5)
    assert percentile(buckets, 0.95) == pytest.approx(48.75)
    buckets[-1] = 100  # as many slower than the last bound
    assert percentile(buckets, 0.95) == LATENCY_BUCKETS_MS[-1]
    assert percentile([0] * BUCKET_COUNT, 0.5) is None


def test_it_records_directly_into_the_hour_and_the_day(alice):
    at = datetime(2026, 3, 1, 14, 59, 59, tzinfo=UTC)
    services.request_record(endpoint="context", method="GET", status=429, latency_ms=7, user_id=alice.pk, at=at)
    services.request_record(endpoint="context", method="GET", status=429, latency_ms=70, user_id=alice.pk, at=at)

    metric = RequestMetric.objects.get()
    assert metric.hour == datetime(2026, 3, 1, 14, tzinfo=UTC)
    assert (metric.status_class, metric.count, metric.total_ms) == ("429", 2, 77)
    assert metric.latency_buckets[1] == 1 and metric.latency_buckets[4] == 1
    assert UserActivity.objects.get().last_seen == at


def test_the_prune_command_keeps_only_the_retention_window(alice, settings):
    now = timezone.now()
    for days in (0, 89, 91, 400):
        at = now - timedelta(days=days)
        services.request_record(endpoint="memory-list", method="GET", status=200, latency_ms=1, user_id=alice.pk, at=at)
    settings.METRICS_RETENTION_DAYS = 90

    for days in (1, 91):
        CaptureHealth.objects.create(site="grok", layout="app", hour=now - timedelta(days=days), prompts_seen=1)

    call_command("prune_request_metrics")

    assert RequestMetric.objects.count() == 2 and UserActivity.objects.count() == 2
    assert min(RequestMetric.objects.values_list("hour", flat=True)) > now - timedelta(days=91)
    assert CaptureHealth.objects.get().hour > now - timedelta(days=2)


def test_recording_a_request_is_one_sql_statement(alice, django_assert_num_queries):
    with django_assert_num_queries(1):
        services.request_record(endpoint="context", method="GET", status=200, latency_ms=3, user_id=alice.pk)
    with django_assert_num_queries(1):
        services.request_record(endpoint="context", method="GET", status=401, latency_ms=3, user_id=None)


def test_the_buffer_holds_counts_until_due_then_writes_them_in_one_statement(alice, alice_client, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.METRICS_FLUSH_SECONDS = 3600
    for _ in range(3):
        alice_client.get("/memories/")
    alice_client.get("/memories/?page=99")
    assert not RequestMetric.objects.exists()  # counted in memory only

    with CaptureQueriesContext(connection) as captured:
        services.buffer.flush()
    assert len(captured.captured_queries) == 1
    rows = {(m.endpoint, m.status_class): m.count for m in RequestMetric.objects.all()}
    assert rows == {("memory-list", "2xx"): 3, ("memory-list", "4xx"): 1}
    assert UserActivity.objects.get(user=alice).requests == 4

    settings.METRICS_FLUSH_SECONDS = 0  # due again: the next request writes, adding to the same rows
    alice_client.get("/memories/")
    assert RequestMetric.objects.get(status_class="2xx").count == 4
    assert sum(RequestMetric.objects.get(status_class="2xx").latency_buckets) == 4
    assert UserActivity.objects.get(user=alice).requests == 5


def test_a_full_buffer_is_due_before_its_time(settings):
    settings.METRICS_FLUSH_SECONDS = 3600
    settings.METRICS_FLUSH_MAX_KEYS = 3
    buffer = services.MetricsBuffer()
    assert not buffer.due()
    for endpoint in ("a", "b"):
        buffer.add(endpoint=endpoint, method="GET", status=200, latency_ms=1, user_id=None)
    assert not buffer.due()
    buffer.add(endpoint="c", method="GET", status=200, latency_ms=1, user_id=None)
    assert buffer.due()


def test_gunicorn_writes_a_workers_counts_when_it_exits(alice, settings):
    import runpy
    from pathlib import Path

    settings.METRICS_FLUSH_SECONDS = 3600
    services.buffer.add(endpoint="context", method="GET", status=200, latency_ms=3, user_id=alice.pk)
    hooks = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))

    class Server:
        class log:
            @staticmethod
            def warning(*args):
                raise AssertionError(args)

    hooks["worker_exit"](Server(), object())
    assert RequestMetric.objects.get().count == 1


def test_buffered_activity_of_a_deleted_account_is_dropped_and_the_rest_written(alice, bob):
    from memories.services import account_delete

    pending = services.MetricsBuffer()
    for person in (alice, bob):
        pending.add(endpoint="context", method="GET", status=200, latency_ms=5.0, user_id=person.pk)
    account_delete(user=alice, via="web")  # after the requests were counted, before the buffer is written

    pending.flush()

    assert list(UserActivity.objects.values_list("user_id", flat=True)) == [bob.pk]
    assert RequestMetric.objects.get().count == 2
