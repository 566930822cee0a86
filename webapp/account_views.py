"""The person's account on /app/: where they are signed in (and signing out there), and deleting the account.

Each view names the signed-in user to the service, which finds only that user's sessions and tokens: another
person's id is "not found" (404), never told apart from an id that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import User
from accounts.ratelimit import BurstLimited, burst_check, user_key
from accounts.second_factor import second_factor_required
from core.errors import status_of
from core.exceptions import ApplicationError, NotFound
from memories import services as memory_services
from webapp.forms import AccountDeleteForm, SignOutEverywhereForm
from webapp.http import error_page
from webapp.selectors import device_of


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]  # login_required: never anonymous here


def _gone(request: HttpRequest, what: str) -> HttpResponse:
    return error_page(request, status=404, title="Not found", message=f"There is no such {what} among yours.")


# --- Where you're signed in -------------------------------------------------------------------------------


@require_GET
@login_required
def sessions(request: HttpRequest) -> HttpResponse:
    return _sessions_page(request, form=SignOutEverywhereForm())


def _sessions_page(request: HttpRequest, *, form: SignOutEverywhereForm, status: int = 200) -> HttpResponse:
    user = _user(request)
    current = request.session.session_key
    web = [
        {"session": s, "device": device_of(s.user_agent), "current": s.session_key == current}
        for s in account_selectors.web_session_list(user=user)
    ]
    context: dict[str, Any] = {
        "web_sessions": web,
        "extension_sign_ins": account_selectors.refresh_token_list(user=user),
        "access_tokens": account_selectors.access_token_list(user=user).filter(revoked_at__isnull=True),
        "connected_apps": account_selectors.app_connection_list(user=user),
        "everywhere_form": form,
        "now": timezone.now(),
    }
    return render(request, "webapp/account/sessions.html", context, status=status)


@require_POST
@login_required
def web_session_revoke(request: HttpRequest, web_session_id: int) -> HttpResponse:
    try:
        ended = account_services.web_session_revoke(user=_user(request), web_session_id=web_session_id)
    except NotFound:
        return _gone(request, "session")
    if ended.session_key == request.session.session_key:
        return redirect(settings.LOGIN_URL)  # this browser: signed out like any other
    messages.success(request, f"Signed out {device_of(ended.user_agent)}.")
    return redirect("webapp:account-sessions")


@require_POST
@login_required
def extension_sign_in_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        account_services.refresh_token_revoke(user=_user(request), token_id=token_id)
    except NotFound:
        return _gone(request, "sign-in")
    messages.success(request, "Signed out: that extension must sign in again within minutes.")
    return redirect("webapp:account-sessions")


@require_POST
@login_required
def access_token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = account_services.access_token_revoke(user=_user(request), token_id=token_id)
    except NotFound:
        return _gone(request, "token")
    messages.success(request, f"Revoked “{token.name}”: it is refused from now on.")
    return redirect("webapp:account-sessions")


@require_POST
@login_required
def app_connection_revoke(request: HttpRequest, connection_id: int) -> HttpResponse:
    try:
        connection = account_services.app_connection_revoke(user=_user(request), connection_id=connection_id)
    except NotFound:
        return _gone(request, "connected app")
    name = connection.application.name or "The app"
    messages.success(request, f"Disconnected “{name}”: it is refused from its next request on.")
    return redirect("webapp:account-sessions")


@require_POST
@login_required
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    form = SignOutEverywhereForm(request.POST)
    if not form.is_valid():
        return _sessions_page(request, form=form, status=400)
    done = account_services.sign_out_everywhere(
        user=_user(request),
        keep_session_key=request.session.session_key,
        access_tokens=form.cleaned_data["access_tokens"],
    )
    told = f"Signed out everywhere else: {done.web_sessions} browser(s), {done.refresh_tokens} extension sign-in(s)"
    if form.cleaned_data["access_tokens"]:
        told += f", {done.access_tokens} access token(s) revoked"
    messages.success(request, told + ".")
    return redirect("webapp:account-sessions")


# --- Deleting the account ---------------------------------------------------------------------------------


def _delete_form(request: HttpRequest, data: Any = None) -> AccountDeleteForm:
    user = _user(request)
    return AccountDeleteForm(
        data,
        username=user.get_username(),
        needs_password=user.has_usable_password(),
        needs_code=second_factor_required(user=user),
    )


@require_http_methods(["GET", "POST"])
@login_required
def account_delete(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "webapp/account/delete.html", {"delete_form": _delete_form(request)})
    form = _delete_form(request, request.POST)
    if not form.is_valid():
        return render(request, "webapp/account/delete.html", {"delete_form": form}, status=400)
    try:
        # The password is checked here: as tight a limit as the sign-in form's.
        burst_check(request, group="account-delete", key=user_key, rate=settings.RATELIMIT_AUTH_RATE)
        account_services.user_reauthenticate(
            user=_user(request),
            password=form.cleaned_data.get("password", ""),
            code=form.cleaned_data.get("code", ""),
        )
    except (ApplicationError, BurstLimited) as exc:
        form.add_error(None, exc.message)
        return render(request, "webapp/account/delete.html", {"delete_form": form}, status=status_of(exc))
    memory_services.account_delete(user=_user(request), via="web")
    logout(request)
    return render(request, "webapp/account/deleted.html")
