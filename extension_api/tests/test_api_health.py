"""POST /extension/health: strict counts only, summed per (site, layout, UTC hour) with nothing about the person.

Another person's data is not a negative path here: the rows hold no user at all, so there is nothing of anyone's to
read or write (and an account deletion has nothing to purge)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import DailyUsage, TokenScope
from accounts.services import access_token_create
from extension_api.models import CaptureHealth
from extension_api.tests.factories import health_report
from testkit import assert_error

pytestmark = pytest.mark.django_db

URL = "/extension/health"


_report = health_report


def _post(client: APIClient, *reports: dict, **body):
    return client.post(URL, {"reports": list(reports), **body}, format="json")


def _token_client(user, scope: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_create(user=user, name='t', scope=scope).secret}")
    return client


def test_it_adds_reports_into_hourly_aggregates_per_site_and_layout(alice_client, bob_client):
    response = _post(alice_client, _report(), _report(site="claude", layout="hub", prompts_seen=5, answers_captured=5))
    again = _post(bob_client, _report(prompts_seen=4, answers_captured=1, answers_missing=3, fallbacks_used=2))

    assert response.status_code == 200
    assert response.json() == {"success": True, "recorded": 2}
    assert again.json() == {"success": True, "recorded": 1}
    hour = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rows = {(r.site, r.layout): r for r in CaptureHealth.objects.all()}
    assert set(rows) == {("chatgpt", "thread"), ("claude", "hub")}
    chatgpt = rows[("chatgpt", "thread")]
    assert (chatgpt.prompts_seen, chatgpt.answers_captured, chatgpt.answers_missing, chatgpt.fallbacks_used) == (
        7,
        3,
        4,
        2,
    )
    assert chatgpt.reports == 2 and chatgpt.hour == hour


def test_the_rows_hold_no_person_and_no_content():
    columns = {field.name for field in CaptureHealth._meta.get_fields()}
    assert columns == {
        "id",
        "site",
        "layout",
        "hour",
        "prompts_seen",
        "answers_captured",
        "answers_missing",
        "fallbacks_used",
        "reports",
    }


def test_a_report_counts_in_the_utc_hour_its_period_ended(alice_client):
    end = (timezone.now() - timedelta(hours=5)).replace(minute=59, second=30, microsecond=0)
    _post(alice_client, _report(period_start=(end - timedelta(hours=2)).isoformat(), period_end=end.isoformat()))
    assert CaptureHealth.objects.get().hour == end.astimezone(UTC).replace(minute=0, second=0)


@pytest.mark.parametrize("field", ["url", "prompt", "answer_text", "page_title", "user_id"])
def test_an_unknown_field_in_a_report_is_refused_by_name_and_nothing_is_stored(alice_client, field):
    response = _post(alice_client, _report(), _report(**{field: "https://chatgpt.com/c/123"}))
    assert_error(response, 400, f"reports.1.{field}: unknown field")
    assert not CaptureHealth.objects.exists()


def test_an_unknown_top_level_field_is_refused_by_name(alice_client):
    assert_error(_post(alice_client, _report(), url="https://x"), 400, "url: unknown field")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"site": "deepseek"}, 'reports.0.site: "deepseek" is not a valid choice'),
        ({"layout": "Thread View"}, "reports.0.layout: lowercase letters"),
        ({"layout": "x" * 41}, "reports.0.layout: lowercase letters"),
        ({"adapter_version": "<script>"}, "reports.0.adapter_version: a version like"),
        ({"prompts_seen": -1}, "reports.0.prompts_seen: Ensure this value is greater than or equal to 0"),
        ({"answers_captured": 10_001}, "reports.0.answers_captured: at most 10000 per report"),
        ({"fallbacks_used": "many"}, "reports.0.fallbacks_used: A valid integer is required"),
        ({"period_end": "yesterday"}, "reports.0.period_end: Datetime has wrong format"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(alice_client, changes, message):
    assert_error(_post(alice_client, _report(**changes)), 400, message)
    assert not CaptureHealth.objects.exists()


def test_periods_must_be_ordered_recent_and_at_most_a_day(alice_client):
    now = timezone.now()
    cases = [
        (now, now - timedelta(minutes=1), "period_start: must not be after period_end"),
        (now - timedelta(hours=25), now, "period_start: a report covers at most 24 hours"),
        (now, now + timedelta(hours=1), "period_end: is in the future"),
        (now - timedelta(hours=175), now - timedelta(hours=169), "period_end: is more than 168 hours ago"),
    ]
    for start, end, message in cases:
        report = _report(period_start=start.isoformat(), period_end=end.isoformat())
        assert_error(_post(alice_client, report), 400, message)
    assert not CaptureHealth.objects.exists()


def test_the_batch_must_be_a_non_empty_bounded_list(alice_client, settings):
    settings.EXTENSION_HEALTH_MAX_REPORTS = 3
    assert_error(_post(alice_client, *[_report()] * 4), 400, "reports: at most 3 reports per request")
    assert_error(_post(alice_client), 400, "reports: send at least one report")
    assert_error(alice_client.post(URL, {}, format="json"), 400, "reports: This field is required")
    assert_error(alice_client.post(URL, [_report()], format="json"), 400, "")
    assert_error(alice_client.post(URL, "not json", content_type="application/json"), 400, "JSON")
    assert not CaptureHealth.objects.exists()


def test_made_up_layout_names_past_the_cap_count_as_other(alice_client, settings):
    settings.EXTENSION_HEALTH_MAX_LAYOUTS = 2
    _post(alice_client, _report(layout="app"), _report(layout="thread"))
    _post(alice_client, _report(layout="junk-1"), _report(layout="junk-2"), _report(layout="app"))

    layouts = dict(CaptureHealth.objects.values_list("layout", "reports"))
    assert layouts == {"app": 2, "thread": 1, "other": 2}


def test_it_needs_a_token(anon_client):
    assert_error(_post(anon_client, _report()), 401, "Authentication required")
    assert not CaptureHealth.objects.exists()


def test_an_invalid_or_revoked_token_is_refused(alice):
    from accounts.services import access_token_revoke

    garbage = APIClient()
    garbage.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert_error(_post(garbage, _report()), 401, "token")
    created = access_token_create(user=alice, name="gone", scope=TokenScope.WRITE)
    access_token_revoke(user=alice, token_id=created.token.pk)
    revoked = APIClient()
    revoked.credentials(HTTP_AUTHORIZATION=f"Bearer {created.secret}")
    assert_error(_post(revoked, _report()), 401, "revoked")
    assert not CaptureHealth.objects.exists()


def test_a_read_only_access_token_cannot_report_and_a_write_token_can(alice):
    assert_error(_post(_token_client(alice, TokenScope.READ), _report()), 403, "read-only")
    assert _post(_token_client(alice, TokenScope.WRITE), _report()).status_code == 200
    assert CaptureHealth.objects.get().reports == 1


def test_other_methods_are_refused(alice_client):
    assert_error(alice_client.get(URL), 405, "not allowed")
    assert_error(alice_client.delete(URL), 405, "not allowed")


def test_it_limits_reports_per_person_and_not_against_the_daily_quota(alice_client, bob_client, settings):
    settings.EXTENSION_HEALTH_RATE = "2/h"
    assert _post(alice_client, _report()).status_code == 200
    assert _post(alice_client, _report()).status_code == 200
    response = _post(alice_client, _report())
    assert_error(response, 429, "Too many requests: the limit is 2 per hour")
    assert int(response["Retry-After"]) >= 1
    assert _post(bob_client, _report()).status_code == 200  # per person
    assert CaptureHealth.objects.get().reports == 3
    assert not DailyUsage.objects.exists()
    assert "X-RateLimit-Limit" not in response


def test_it_is_served_under_api_v1_too(alice_client):
    assert alice_client.post("/api/v1" + URL, {"reports": [_report()]}, format="json").status_code == 200


def test_an_old_extension_s_timestamp_without_zone_is_read_as_utc(alice_client):
    end = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(minutes=1)
    report = _report(period_start=(end - timedelta(minutes=5)).isoformat(), period_end=end.isoformat())
    assert _post(alice_client, report).status_code == 200


def test_a_batch_is_stored_in_three_statements_whatever_its_sites_and_hours(alice, django_assert_num_queries):
    from extension_api import services
    from extension_api.services import HealthReport

    now = timezone.now()
    reports = [
        HealthReport(site, layout, now - timedelta(hours=hours), 3, 2, 1, 0)
        for site in ("chatgpt", "claude", "grok")
        for layout in ("app", "hub")
        for hours in (0, 2)
    ]
    with django_assert_num_queries(5) as queries:  # a savepoint (the test's transaction) around three statements
        assert services.health_record(reports=reports) == 12
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert statements[0] == "SET LOCAL synchronous_commit TO OFF"
    assert len(statements) == 3 and statements[2].startswith("INSERT INTO")  # the layouts stored, then one upsert


@pytest.mark.parametrize("bad", ["\\ud800", "\\u0000", "a\\udc00b"])
def test_lone_surrogates_and_nul_are_refused_in_keys_and_values(alice_client, bad):
    for raw in (
        '{"reports": [{"site": "BAD"}]}',
        '{"reports": [{"BAD": 1}]}',
        '{"BAD": []}',
    ):
        response = alice_client.generic("POST", URL, raw.replace("BAD", bad), content_type="application/json")
        assert response.status_code == 400, response.content
        assert response.json()["success"] is False
    assert not CaptureHealth.objects.exists()
