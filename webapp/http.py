"""HTTP plumbing shared by the page's views: headers every personal page gets, safe redirects, error pages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme

# Nothing but this site's own stylesheet, forms and static scripts (the import progress bar, which asks this
# site only, and allauth's passkey pages, which need WebAuthn): no inline script or style, no framing. The pages
# work the same without any script.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

View = Callable[..., HttpResponseBase]


def personal(view: View, *, policy: str = CONTENT_SECURITY_POLICY) -> View:
    """The page's headers: the CSP above, and never cached (the pages show a person's own memories)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response.setdefault("Content-Security-Policy", policy)
        add_never_cache_headers(response)
        return response

    return wrapped


def personal_patterns(patterns: list[Any]) -> list[URLPattern | URLResolver]:
    """Another app's URL patterns (allauth's) with every view wrapped by :func:`personal`, names kept."""
    wrapped: list[URLPattern | URLResolver] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = personal_patterns(entry.url_patterns)
            wrapped.append(URLResolver(entry.pattern, inner, entry.default_kwargs, entry.app_name, entry.namespace))
        else:
            view = personal(entry.callback)  # passkeys need this site's own scripts: allowed above
            wrapped.append(URLPattern(entry.pattern, view, entry.default_args, entry.name))
    return wrapped


def back(request: HttpRequest) -> HttpResponseRedirect:
    """Back to the page the form was on (its ``next`` field), if that is a page of /app/ on this site."""
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False)
    if safe and target.startswith("/app/"):
        return HttpResponseRedirect(target)
    return redirect("webapp:home")


def error_page(request: HttpRequest, *, status: int, title: str, message: str) -> HttpResponse:
    return render(request, "webapp/error.html", {"title": title, "message": message}, status=status)
