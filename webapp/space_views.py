"""The person's spaces on /app/ (/app/spaces/): make, rename, make default, delete (moving or deleting their
memories), merge two, and move ticked memories from the list to another space. Thin views over the spaces
services; another person's space id (or one that does not exist) is "not found" (404), never told apart.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import Space, User
from core.errors import status_of
from core.exceptions import ApplicationError, NotFound
from memories import services as memory_services
from webapp.forms import MoveMemoriesForm, SpaceDeleteForm, SpaceMergeForm, SpaceNameForm
from webapp.http import back, error_page

EVERYTHING = "all"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]  # login_required: never anonymous here


def no_such_space(request: HttpRequest) -> HttpResponse:
    return error_page(request, status=404, title="Not found", message="There is no such space among yours.")


def space_of(*, user: User, raw: Any) -> Space | None:
    """The space ``raw`` (an id from a URL or a form) names among ``user``'s; empty: their default space; None
    when it names none of theirs (malformed, unknown or another person's: the caller answers 404)."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return account_services.space_default(user=user)
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
        return None
    return account_selectors.space_get(user=user, space_id=int(text))


def _spaces_page(request: HttpRequest, *, status: int = 200, **forms: Any) -> HttpResponse:
    user = _user(request)
    account_services.space_default(user=user)  # a person always has one
    spaces = list(account_selectors.space_list(user=user))
    context = {
        "spaces": spaces,
        "total": sum(space.memory_count for space in spaces),  # type: ignore[attr-defined]
        "create_form": forms.get("create_form") or SpaceNameForm(),
        # A refused form is shown again under the space it was for, with its errors.
        "failed_space": forms.get("failed_space"),
        "failed_form": forms.get("failed_form"),
    }
    return render(request, "webapp/spaces.html", context, status=status)


@require_GET
@login_required
def spaces(request: HttpRequest) -> HttpResponse:
    return _spaces_page(request)


def _refused(request: HttpRequest, exc: ApplicationError, *, space: Space | None, form: Any) -> HttpResponse:
    form.add_error(None, exc.message)
    if space is None:
        return _spaces_page(request, status=status_of(exc), create_form=form)
    return _spaces_page(request, status=status_of(exc), failed_space=space.pk, failed_form=form)


@require_POST
@login_required
def space_create(request: HttpRequest) -> HttpResponse:
    form = SpaceNameForm(request.POST)
    if not form.is_valid():
        return _spaces_page(request, status=400, create_form=form)
    try:
        space = account_services.space_create(user=_user(request), name=form.cleaned_data["name"])
    except ApplicationError as exc:  # the name is taken
        return _refused(request, exc, space=None, form=form)
    messages.success(request, f"Made the space “{space.name}”.")
    return redirect("webapp:spaces")


def _owned(request: HttpRequest, space_id: int) -> Space | None:
    if not 0 < space_id < 2**63:  # no id is that large: not one of theirs
        return None
    return account_selectors.space_get(user=_user(request), space_id=space_id)


@require_POST
@login_required
def space_rename(request: HttpRequest, space_id: int) -> HttpResponse:
    space = _owned(request, space_id)
    if space is None:
        return no_such_space(request)
    form = SpaceNameForm(request.POST)
    if not form.is_valid():
        return _spaces_page(request, status=400, failed_space=space.pk, failed_form=form)
    before = space.name
    try:
        space = account_services.space_update(user=_user(request), space=space, name=form.cleaned_data["name"])
    except ApplicationError as exc:
        return _refused(request, exc, space=space, form=form)
    messages.success(request, f"Renamed “{before}” to “{space.name}”.")
    return redirect("webapp:spaces")


@require_POST
@login_required
def space_make_default(request: HttpRequest, space_id: int) -> HttpResponse:
    space = _owned(request, space_id)
    if space is None:
        return no_such_space(request)
    account_services.space_update(user=_user(request), space=space, is_default=True)
    messages.success(request, f"“{space.name}” is your default space now: what names no space goes there.")
    return redirect("webapp:spaces")


def _space_and_target(request: HttpRequest, space_id: int, form: Any, target: str) -> HttpResponse | tuple[Space, Any]:
    """The space in the URL and the other space the valid ``form`` names in its field ``target`` (None when it
    names none), or the answer to give instead: 404 for a space that is not theirs, 400 for a refused form."""
    space = _owned(request, space_id)
    if space is None:
        return no_such_space(request)
    if not form.is_valid():
        return _spaces_page(request, status=400, failed_space=space.pk, failed_form=form)
    other = None
    if form.cleaned_data.get(target):
        other = _owned(request, form.cleaned_data[target])
        if other is None:
            return no_such_space(request)
    return space, other


@require_POST
@login_required
def space_delete(request: HttpRequest, space_id: int) -> HttpResponse:
    form = SpaceDeleteForm(request.POST)
    found = _space_and_target(request, space_id, form, "to")
    if isinstance(found, HttpResponse):
        return found
    space, to = found
    try:
        done = memory_services.space_delete(user=_user(request), space=space, mode=form.cleaned_data["memories"], to=to)
    except ApplicationError as exc:  # the default space, or moving into itself
        return _refused(request, exc, space=space, form=form)
    if to is not None:
        messages.success(request, f"Deleted “{space.name}”; its {done.moved} memories are in “{to.name}” now.")
    else:
        messages.success(request, f"Deleted the space “{space.name}” and its {done.deleted} memories.")
    return redirect("webapp:spaces")


@require_POST
@login_required
def space_merge(request: HttpRequest, space_id: int) -> HttpResponse:
    form = SpaceMergeForm(request.POST)
    found = _space_and_target(request, space_id, form, "into")
    if isinstance(found, HttpResponse):
        return found
    source, into = found
    try:
        moved = memory_services.space_merge(user=_user(request), source=source, into=into)
    except ApplicationError as exc:  # into itself
        return _refused(request, exc, space=source, form=form)
    same = f" ({moved.merged} were there already and are kept once)" if moved.merged else ""
    messages.success(
        request, f"Merged “{source.name}” into “{into.name}”: {moved.moved + moved.merged} memories moved{same}."
    )
    return redirect("webapp:spaces")


@require_POST
@login_required
def memories_move(request: HttpRequest) -> HttpResponse:
    """The memories ticked in the list go to another of the person's spaces; back to the list."""
    form = MoveMemoriesForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        return error_page(request, status=400, title="Nothing was moved", message=problems)
    to = _owned(request, form.cleaned_data["to"])
    if to is None:
        return no_such_space(request)
    try:
        moved = memory_services.memories_move(user=_user(request), memory_ids=form.cleaned_data["ids"], to=to)
    except NotFound:
        return error_page(request, status=404, title="Not found", message="There is no such memory among yours.")
    count = moved.moved + moved.merged
    messages.success(request, f"Moved {count} {'memory' if count == 1 else 'memories'} to “{to.name}”.")
    return back(request)
