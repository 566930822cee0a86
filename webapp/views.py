"""The person's own page (/app/): thin views over the memories and accounts services and selectors.

Every view that names a memory passes the signed-in user to the service, which finds only that user's memories:
another person's id is "not found" (404), never told apart from an id that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import login_links
from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import Space, User, preferences_of
from accounts.ratelimit import BurstLimited, burst_check, user_key
from accounts.selectors import usage_today
from core.db_routing import replica_read, replica_stream
from core.errors import error_body, status_of
from core.exceptions import ApplicationError, NotFound
from dashboard import charts
from memories import services as memory_services
from memories import supersession
from memories.models import ImportStatus
from memories.transfer import importers, jobs
from webapp import selectors, space_views
from webapp.forms import (
    AccessTokenForm,
    AllSpacesForm,
    DeleteAllForm,
    ImportForm,
    MemoryFilterForm,
    PinForm,
    PreviewForm,
    PriorityForm,
    SettingsForm,
)
from webapp.http import back, error_page

CHART_DAYS = 30
# The account page's extra sections (templates), shown under email, password and two-factor sign-in.
ACCOUNT_SECTIONS: list[str] = []


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]  # login_required: never anonymous here


def _not_found(request: HttpRequest) -> HttpResponse:
    return error_page(request, status=404, title="Not found", message="There is no such memory among yours.")


def _bad_input(request: HttpRequest, form: Any) -> HttpResponse:
    problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
    return error_page(request, status=400, title="Bad request", message=problems)


# --- Signing in -------------------------------------------------------------------------------------------


@require_GET
def login_link(request: HttpRequest, token: str) -> HttpResponse:
    """Signs in the account the one-time link was made for (POST /auth/web-login-link), then goes home."""
    owner = login_links.login_link_owner(token=token)
    if request.user.is_authenticated and owner is not None:
        if owner == request.user.pk:
            return redirect("webapp:home")  # already in: the link stays unspent
        # Refused rather than switching accounts: a link someone else sends must not sign you in as them.
        return error_page(
            request,
            status=400,
            title="Sign-in link refused",
            message=f"You are signed in as {request.user.get_username()}. Sign out first, then open the link again.",
        )
    try:
        user = login_links.login_link_redeem(token=token)
    except login_links.LoginLinkInvalid as exc:
        return error_page(request, status=400, title="Sign-in link refused", message=exc.message)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("webapp:home")


# --- Home -------------------------------------------------------------------------------------------------


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    if "space" in request.GET and request.path == reverse("webapp:home"):
        # One space's list lives at /app/memories/: allauth turns any 404 on /app/ itself into a redirect, and a
        # space that is not the person's must answer 404.
        return redirect(f"{reverse('webapp:memories')}?{request.GET.urlencode()}")
    return _home(request)


def _home(request: HttpRequest, *, status: int = 200, **forms: Any) -> HttpResponse:
    user = _user(request)
    # One space at a time (?space=<id>; none: the default space): the list, the preview, export and import.
    space = space_views.space_of(user=user, raw=request.GET.get("space"))
    if space is None:
        return space_views.no_such_space(request)
    filters = MemoryFilterForm(request.GET)
    if not filters.is_valid():
        status = 400
    selected = filters.selector_filters() if filters.is_valid() else {}
    # The list, the preview and the chart read from the replica when it has this person's last write (docs/scale.md).
    page = replica_read(
        user.pk, lambda: selectors.memory_page(user=user, space=space, filters=selected, page=request.GET.get("page"))
    )
    preview_form, preview, preview_status = _preview(request, space=space)
    status = max(status, preview_status)
    activity = replica_read(user.pk, lambda: selectors.activity_per_day(user=user, days=CHART_DAYS))
    context = {
        "usage": usage_today(user=user),
        "days": CHART_DAYS,
        "saves_total": sum(activity.saves),
        "calls_total": sum(activity.context_calls),
        "saves_chart": charts.stacked_bars(
            "saves-per-day", "Memories saved per day", activity.days, {"saved": activity.saves}
        ),
        "calls_chart": charts.stacked_bars(
            "context-calls-per-day", "Context calls per day", activity.days, {"context calls": activity.context_calls}
        ),
        "filters": filters,
        # Where the memory forms come back to: this page, unless it is a refused POST's answer.
        "here": request.get_full_path() if request.method == "GET" else reverse("webapp:home"),
        # The preview form resubmits the list's filters: previewing keeps the list as it was.
        "kept_filters": [(name, request.GET[name]) for name in filters.fields if request.GET.get(name)],
        "page": page,
        "preview_form": preview_form,
        "preview": preview,
        "delete_all_form": forms.get("delete_all_form") or DeleteAllForm(),
        "import_form": forms.get("import_form") or ImportForm(),
        "imports": [
            (job, jobs.import_place_in_line(job=job)) for job in jobs.import_jobs_recent(user=user, space=None)
        ],
        "priorities": ["low", "normal", "high"],
        "space": space,
        "spaces": list(account_selectors.space_list(user=user)),
        # The default space's list is the plain page; another space's is /app/memories/?space=<id>.
        "list_url": reverse("webapp:home" if space.is_default else "webapp:memories"),
    }
    return render(request, "webapp/home.html", context, status=status)


def _preview(request: HttpRequest, *, space: Space) -> tuple[PreviewForm, selectors.Preview | None, int]:
    if "prompt" not in request.GET:
        return PreviewForm(), None, 200
    form = PreviewForm(request.GET)
    if not form.is_valid():
        return form, None, 400
    try:
        # Each preview embeds the prompt: the API's per-user burst limit applies here too.
        burst_check(request, group="app-preview", key=user_key, rate=settings.RATELIMIT_API_RATE)
    except BurstLimited as exc:
        form.add_error(None, exc.message)
        return form, None, 429
    user, prompt = _user(request), form.cleaned_data["prompt"]
    return form, replica_read(user.pk, lambda: selectors.context_preview(user=user, prompt=prompt, space=space)), 200


# --- Changing one memory ----------------------------------------------------------------------------------


@require_POST
@login_required
def memory_pin(request: HttpRequest, memory_id: int) -> HttpResponse:
    form = PinForm(request.POST)
    if not form.is_valid():
        return _bad_input(request, form)
    try:
        memory_services.memory_update(user=_user(request), memory_id=memory_id, pinned=form.cleaned_data["pinned"])
    except NotFound:
        return _not_found(request)
    messages.success(request, "Pinned." if form.cleaned_data["pinned"] else "Unpinned.")
    return back(request)


@require_POST
@login_required
def memory_all_spaces(request: HttpRequest, memory_id: int) -> HttpResponse:
    """A standing preference ("I'm vegetarian") offered in every space's context, or in its own space only."""
    form = AllSpacesForm(request.POST)
    if not form.is_valid():
        return _bad_input(request, form)
    shared = form.cleaned_data["all_spaces"]
    try:
        memory_services.memory_update(user=_user(request), memory_id=memory_id, all_spaces=shared)
    except NotFound:
        return _not_found(request)
    except ApplicationError as exc:  # not a standing preference
        return error_page(request, status=status_of(exc), title="Not changed", message=exc.message)
    messages.success(request, "Used in every space from now on." if shared else "Used in its own space only.")
    return back(request)


@require_POST
@login_required
def memory_priority(request: HttpRequest, memory_id: int) -> HttpResponse:
    form = PriorityForm(request.POST)
    if not form.is_valid():
        return _bad_input(request, form)
    try:
        memory = memory_services.memory_update(
            user=_user(request), memory_id=memory_id, priority=form.cleaned_data["priority"]
        )
    except NotFound:
        return _not_found(request)
    messages.success(request, f"Priority set to {memory.get_priority_display()}.")
    return back(request)


@require_POST
@login_required
def memory_delete(request: HttpRequest, memory_id: int) -> HttpResponse:
    try:
        memory_services.memory_delete(user=_user(request), memory_id=memory_id, space=None)
    except NotFound:
        return _not_found(request)
    messages.success(request, "Deleted one memory.")
    return back(request)


@require_POST
@login_required
def memory_unlink(request: HttpRequest, memory_id: int) -> HttpResponse:
    """The person says a "replaces" link is wrong: neither memory replaces the other any more."""
    try:
        removed = supersession.memory_supersede_unlink(user=_user(request), memory_id=memory_id)
    except NotFound:
        return _not_found(request)
    messages.success(request, "Unlinked: both memories count as current." if removed else "Nothing to unlink.")
    return back(request)


# --- Everything at once -----------------------------------------------------------------------------------


@require_POST
@login_required
def memory_delete_all(request: HttpRequest) -> HttpResponse:
    form = DeleteAllForm(request.POST)
    if not form.is_valid():
        return _home(request, status=400, delete_all_form=form)
    user = _user(request)
    if form.cleaned_data["scope"] == "space":
        space = space_views.space_of(user=user, raw=request.POST.get("space"))
        if space is None:
            return space_views.no_such_space(request)
        deleted = memory_services.memory_delete_all(user=user, space=space)
        what = "1 memory" if deleted == 1 else f"{deleted} memories"
        messages.success(request, f"Deleted {what} of “{space.name}”; your other spaces are kept.")
        return redirect("webapp:home" if space.is_default else f"{reverse('webapp:memories')}?space={space.pk}")
    deleted = memory_services.memory_delete_all(user=user, space=None)  # "all your memories", every space
    messages.success(request, f"Deleted all your memories ({deleted}).")
    return redirect("webapp:home")


@require_GET
@login_required
def memory_export(request: HttpRequest) -> HttpResponseBase:
    """The API's export (GET /memories/export), streamed the same way; ``?format=ndjson`` for one line each;
    ``?space=<id>`` one space (none: the default space), ``?space=all`` everything."""
    fmt = request.GET.get("format", "json")
    if fmt not in ("json", "ndjson"):
        return error_page(request, status=400, title="Bad request", message="format: use json or ndjson.")
    user = _user(request)
    space = None
    if request.GET.get("space") != space_views.EVERYTHING:
        space = space_views.space_of(user=user, raw=request.GET.get("space"))
        if space is None:
            return space_views.no_such_space(request)
    rows = (importers.export_ndjson if fmt == "ndjson" else importers.export_json)(user=user, space=space)
    rows = replica_stream(user.pk, rows)  # as GET /memories/export
    response = StreamingHttpResponse(
        (piece.encode() for piece in rows),
        content_type="application/x-ndjson; charset=utf-8" if fmt == "ndjson" else "application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="memories-{timezone.now():%Y%m%d}.{fmt}"'
    return response


@require_POST
@login_required
def memory_import(request: HttpRequest) -> HttpResponse:
    space = space_views.space_of(user=_user(request), raw=request.POST.get("space"))
    if space is None:
        return space_views.no_such_space(request)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _home(request, status=400, import_form=form)
    try:
        # The API's way in: imported now when small, else queued for the worker and listed under Import.
        job = jobs.import_receive(user=_user(request), upload=form.cleaned_data["file"], space=space)
    except ApplicationError as exc:  # not a format we read, broken, too large
        form.add_error("file", exc.message)
        return _home(request, status=status_of(exc), import_form=form)
    # Back to the space imported into (the default space's list is the plain page).
    here = reverse("webapp:home") if space.is_default else f"{reverse('webapp:memories')}?space={space.pk}"
    into = "" if space.is_default else f" into “{space.name}”"
    if job.status != ImportStatus.DONE:
        messages.success(request, f"Import of {job.filename}{into} queued: its progress is shown under Import.")
        return redirect(here)
    left_out = f", {job.skipped} left out by your excluded phrases" if job.skipped else ""
    messages.success(
        request,
        f"Imported {job.imported} memories{into} ({job.duplicates} already stored, {job.failed} not valid{left_out}).",
    )
    for problem in job.errors[:5]:
        messages.warning(request, f"{problem['item']}: {problem['status']}, {problem['reason']}")
    return redirect(here)


# --- The account ------------------------------------------------------------------------------------------


@require_GET
@login_required
def account(request: HttpRequest) -> HttpResponse:
    """Your account: email addresses, password, two-factor sign-in (allauth's pages), and more sections below."""
    user = _user(request)
    context = {
        "emails": account_selectors.email_addresses(user=user),
        "has_password": user.has_usable_password(),
        "two_factor": account_selectors.two_factor_status(user=user),
        # Further sections' templates, in order (each gets this same context): add one here to extend the page.
        "account_sections": ACCOUNT_SECTIONS,
    }
    return render(request, "webapp/account.html", context)


# --- Settings ---------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def capture_settings(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "GET":
        form = SettingsForm(initial=SettingsForm.initial_from(preferences_of(user)))
        return render(request, "webapp/settings.html", {"form": form})
    form = SettingsForm(request.POST)
    if not form.is_valid():
        return render(request, "webapp/settings.html", {"form": form}, status=400)
    account_services.preferences_update(user=user, changes=form.changes())
    messages.success(request, "Settings saved.")
    return redirect("webapp:settings")


# --- Personal access tokens (for MCP clients and scripts) ---------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def access_tokens(request: HttpRequest) -> HttpResponse:
    """The person's tokens; a POST makes one and shows it on the answer's page, the only time it is shown."""
    if request.method == "GET":
        return _tokens_page(request, form=_token_form(request))
    form = _token_form(request, request.POST)
    if not form.is_valid():
        return _tokens_page(request, form=form, status=400)
    try:
        created = account_services.access_token_create(user=_user(request), **form.service_arguments())
    except ApplicationError as exc:  # too many tokens
        form.add_error(None, exc.message)
        return _tokens_page(request, form=form, status=status_of(exc))
    return _tokens_page(request, form=_token_form(request), created=created)


def _token_form(request: HttpRequest, data: Any = None) -> AccessTokenForm:
    return AccessTokenForm(data, spaces=list(account_selectors.space_list(user=_user(request))))


def _tokens_page(
    request: HttpRequest, *, form: AccessTokenForm, created: Any = None, status: int = 200
) -> HttpResponse:
    context = {
        "form": form,
        "created": created,
        "tokens": account_selectors.access_token_list(user=_user(request)),
        "now": timezone.now(),
        "mcp_url": request.build_absolute_uri("/mcp"),
    }
    return render(request, "webapp/tokens.html", context, status=status)


@require_POST
@login_required
def access_token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = account_services.access_token_revoke(user=_user(request), token_id=token_id)
    except NotFound:
        return error_page(request, status=404, title="Not found", message="There is no such token among yours.")
    messages.success(request, f"Revoked “{token.name}” ({token.prefix}…): it is refused from now on.")
    return redirect("webapp:tokens")


@require_GET
@login_required
def import_status(request: HttpRequest, job_id: str) -> HttpResponse:
    """One of the person's imports as JSON, for the page's progress bar (static/webapp/imports.js): its counts and
    how many bulk turns of other people's work run before its next one."""
    try:
        job = jobs.import_job_of(user=_user(request), job_id=job_id, space=None)
    except NotFound as exc:
        return JsonResponse(error_body(exc.message), status=404)
    return JsonResponse(
        {
            "job_id": str(job.pk),
            "status": job.status,
            "total": job.total,
            "done": job.done,
            "imported": job.imported,
            "duplicates": job.duplicates,
            "failed": job.failed,
            "place_in_line": jobs.import_place_in_line(job=job),
        }
    )
