"""Records the browsers signed in to /app/ (accounts.WebSession), for "Where you're signed in"."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse

from accounts import services
from accounts.models import User

# Kept in the session itself: when this session was last recorded (epoch seconds), so most requests write nothing.
SEEN_MARK = "_websession_seen"


class WebSessionMiddleware:
    """After the view: a signed-in session is recorded (device, first and last seen) at most once a minute; a
    session that ended or changed key during the request (sign-out, sign-in) is no longer listed.

    Placed after AuthenticationMiddleware, so it runs before SessionMiddleware saves the session on the way out.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        key_before = session.session_key if session is not None else None
        response = self.get_response(request)
        if session is None:
            return response
        key_now = session.session_key
        if key_before and key_before != key_now:
            services.web_session_forget(session_key=key_before)
        user_id = session.get(SESSION_KEY) if key_now else None
        user = getattr(request, "user", None)
        if user_id is None or not isinstance(user, User) or str(user.pk) != str(user_id):
            return response
        now = time.time()
        if key_before == key_now and now - float(session.get(SEEN_MARK, 0)) < services.SEEN_RESOLUTION.total_seconds():
            return response
        services.web_session_record(
            user=user,
            session_key=str(key_now),
            user_agent=request.headers.get("User-Agent", ""),
        )
        session[SEEN_MARK] = now
        return response
