"""The consent page of OAuth (docs/oauth.md): /app/oauth/authorize, in the page's look, for a signed-in person.

django-oauth-toolkit's ``AuthorizationView`` checks the request (client, redirect URI, PKCE S256, resource) and
issues the code; this view shows which app asks, lets the person choose read or read and write and the spaces
it may use, and records the choice (accounts.services.app_connection_record) when they allow it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django import forms
from django.http import HttpResponse
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.forms import AllowForm
from oauth2_provider.models import get_application_model
from oauth2_provider.views import AuthorizationView
from oauthlib.oauth2.rfc6749.errors import InvalidRequestError

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import TokenScope, User
from webapp.http import CONTENT_SECURITY_POLICY

ACCESS_CHOICES = [
    (TokenScope.READ.value, "Read: search and list your memories"),
    (TokenScope.WRITE.value, "Read and write: also save and forget memories"),
]


class ConsentForm(AllowForm):
    """DOT's hidden fields (client, redirect URI, PKCE challenge, state, resource) and the person's choice."""

    access = forms.ChoiceField(choices=ACCESS_CHOICES, widget=forms.RadioSelect, label="What it may do")
    spaces = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        label="Which spaces it may use",
        help_text="Unless it names one, it uses your default space if you allow it, else the oldest you allow. "
        "It cannot see the spaces you leave out.",
        error_messages={"required": "Choose at least one space."},
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any):
        super().__init__(*args, **kwargs)
        spaces = list(account_selectors.space_list(user=user))
        self.fields["spaces"].choices = [
            (str(space.pk), f"{space.name} (your default)" if space.is_default else space.name) for space in spaces
        ]
        self.fields["spaces"].initial = [str(space.pk) for space in spaces if space.is_default]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # The scope the code carries is the person's choice, whatever the app asked for.
        if cleaned.get("access") == TokenScope.WRITE.value:
            cleaned["scope"] = "read write"
        else:
            cleaned["scope"] = "read"
        return cleaned


class ConsentView(AuthorizationView):
    template_name = "webapp/oauth/authorize.html"
    form_class = ConsentForm

    def validate_authorization_request(self, request: Any) -> tuple[list[str], dict[str, Any]]:
        """DOT's checks, then S256 required before the person is asked (DOT would only refuse "plain" once
        the person had allowed it, when the code is made)."""
        scopes, credentials = super().validate_authorization_request(request)
        if credentials.get("code_challenge_method") != "S256":
            error = InvalidRequestError(description='code_challenge_method must be "S256"', state=credentials["state"])
            raise OAuthToolkitError(error=error, redirect_uri=credentials["redirect_uri"])
        return scopes, credentials

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = super().get_form_kwargs()
        kwargs["user"] = self.request.user
        return kwargs

    def get_initial(self) -> dict[str, Any]:
        initial: dict[str, Any] = super().get_initial()
        asked = set(str(initial.get("scope") or "").split())
        initial["access"] = TokenScope.WRITE.value if TokenScope.WRITE.value in asked else TokenScope.READ.value
        return initial

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)
        redirect_uri = context.get("redirect_uri") or ""
        context["redirect_host"] = urlsplit(redirect_uri).netloc
        return context

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().render_to_response(context, **kwargs)
        response["Content-Security-Policy"] = _policy(context.get("redirect_uri") or "")
        return response

    def form_valid(self, form: ConsentForm) -> HttpResponse:
        response: HttpResponse = super().form_valid(form)
        if form.cleaned_data.get("allow") and _carries_code(response):
            application = get_application_model().objects.get(client_id=form.cleaned_data["client_id"])
            account_services.app_connection_record(
                user=self.request.user,  # type: ignore[arg-type]  # LoginRequiredMixin: never anonymous
                application=application,
                scope=form.cleaned_data["access"],
                spaces=[int(space_id) for space_id in form.cleaned_data["spaces"]],
            )
        return response


def _carries_code(response: HttpResponse) -> bool:
    location = response.get("Location", "")
    return response.status_code in (301, 302) and "code" in parse_qs(urlsplit(location).query)


def _policy(redirect_uri: str) -> str:
    """The page's CSP, letting the consent form's answer redirect to the app (form-action covers redirects)."""
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")
