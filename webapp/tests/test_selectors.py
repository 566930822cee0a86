"""The page's reads: the per-day series come from the database (memories by day, /context calls counted by the
metrics middleware), for the person alone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from core.dates import utc_today
from dashboard.models import UserActivity
from memories.tests.factories import save
from testkit import client_for
from webapp import selectors

pytestmark = pytest.mark.django_db


def test_it_counts_the_persons_saves_per_utc_day_over_thirty_days(alice, bob):
    today = utc_today()
    # times fixed to the first minute of each UTC day, so the test holds at any hour (also just after midnight)
    first_minute = datetime.combine(today, time(0, 0, 1), tzinfo=UTC)
    save(alice, "I live in Lyon.", when=first_minute)
    save(alice, "I cycle to work.", when=first_minute)
    save(alice, "My sister is Inès.", when=first_minute - timedelta(days=29))
    save(alice, "Too old to be charted.", when=first_minute - timedelta(days=30))
    save(bob, "Bob's memory.", when=first_minute)
    activity = selectors.activity_per_day(user=alice, days=30)
    assert len(activity.days) == 30 and activity.days[-1] == today
    assert dict(zip(activity.days, activity.saves, strict=True))[today] == 2
    assert sum(activity.saves) == 3


def test_it_counts_only_successful_context_calls_through_the_metrics(alice, bob, recent):
    save(alice, "I live in Lyon and cycle to work.", when=recent)
    api = client_for(alice)
    assert api.get(f"/context/{alice.pk}", {"query": "where do I live"}).status_code == 200
    assert api.get(f"/api/v1/context/{alice.pk}/", {"query": "how do I get to work"}).status_code == 200
    assert api.get(f"/context/{alice.pk}", {"top_k": "0", "query": "x"}).status_code == 400  # not counted
    assert api.get("/auth/me").status_code == 200  # counted as a request, not as a context call
    client_for(bob).get(f"/context/{bob.pk}", {"query": "anything"})
    row = UserActivity.objects.get(user=alice, day=utc_today())
    assert (row.requests, row.context_calls) == (4, 2)
    activity = selectors.activity_per_day(user=alice, days=30)
    assert activity.context_calls[-1] == 2 and sum(activity.context_calls) == 2


def test_it_reads_context_calls_of_earlier_days(alice, bob):
    today = utc_today()
    for user, days_ago, calls in ((alice, 3, 5), (alice, 40, 7), (bob, 0, 1)):
        UserActivity.objects.create(
            user=user, day=today - timedelta(days=days_ago), requests=9, context_calls=calls, last_seen=timezone.now()
        )
    activity = selectors.activity_per_day(user=alice, days=30)
    assert activity.context_calls[-4] == 5 and sum(activity.context_calls) == 5
