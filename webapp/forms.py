"""The page's forms: each validates one request's input and hands the service or selector plain values."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from accounts.models import PROVIDERS, Preferences, TokenScope
from memories.models import Kind, Priority

ANY = [("", "any")]
MAX_PHRASES = 100
MAX_PHRASE_CHARS = 200
DELETE_WORD = "DELETE"


def _day_start(day: Any) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class MemoryFilterForm(forms.Form):
    """The list's filters (GET). Dates are whole UTC days, both ends included."""

    q = forms.CharField(required=False, max_length=settings.MEMORY_MAX_QUERY_CHARS, label="Text")
    provider = forms.ChoiceField(required=False, choices=ANY + [(p, p) for p in settings.MEMORY_PROVIDERS])
    kind = forms.ChoiceField(required=False, choices=ANY + list(Kind.choices))
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "must not be before From.")
        return data

    def selector_filters(self) -> dict[str, Any]:
        """memories.selectors.memory_list's keywords for the valid form."""
        data = self.cleaned_data
        return {
            "q": data["q"] or None,
            "provider": data["provider"] or None,
            "kind": data["kind"] or None,
            "since": _day_start(data["date_from"]) if data["date_from"] else None,
            "until": _day_start(data["date_to"]) + timedelta(days=1) if data["date_to"] else None,
        }


class PreviewForm(forms.Form):
    prompt = forms.CharField(max_length=settings.MEMORY_MAX_QUERY_CHARS, label="Prompt")


class PinForm(forms.Form):
    pinned = forms.TypedChoiceField(choices=[("true", "pin"), ("false", "unpin")], coerce=lambda value: value == "true")


class AllSpacesForm(forms.Form):
    all_spaces = forms.TypedChoiceField(
        choices=[("true", "every space"), ("false", "this space")], coerce=lambda value: value == "true"
    )


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(
        choices=[(label, label) for _, label in Priority.choices],
        coerce=lambda label: {lbl: value for value, lbl in Priority.choices}[label],
    )


class DeleteAllForm(forms.Form):
    # "space": only the memories of the space shown (the form's ``space``); "all": every space's.
    scope = forms.ChoiceField(choices=[("all", "Every space"), ("space", "Only this space")], required=False)
    confirm = forms.CharField(label=f"Type {DELETE_WORD} to confirm", max_length=20)

    def clean_scope(self) -> str:
        return self.cleaned_data["scope"] or "all"

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"]
        if value != DELETE_WORD:
            raise forms.ValidationError(f"Type {DELETE_WORD} (in capitals) to delete every memory.")
        return value


class ImportForm(forms.Form):
    # Its size and content are checked by the import itself (memories.transfer.jobs), as for the API.
    file = forms.FileField(
        label="Export file: ours (JSON or NDJSON), ChatGPT's (.json or .zip) or Claude's", allow_empty_file=True
    )


class SettingsForm(forms.Form):
    """accounts.Preferences as a form: one checkbox per provider, excluded phrases one per line."""

    capture = forms.BooleanField(required=False, label="Save my prompts and answers")
    context = forms.BooleanField(required=False, label="Add relevant memories to my prompts (/context)")
    redact_pii = forms.BooleanField(required=False, label="Also redact e-mail addresses and phone numbers")
    excluded_phrases = forms.CharField(
        required=False,
        label="Never save a message containing (one phrase per line)",
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for provider in PROVIDERS:
            self.fields[f"provider_{provider}"] = forms.BooleanField(required=False, label=provider)

    @classmethod
    def initial_from(cls, prefs: Preferences) -> dict[str, Any]:
        return {
            "capture": prefs.capture,
            "context": prefs.context,
            "redact_pii": prefs.redact_pii,
            "excluded_phrases": "\n".join(prefs.excluded_phrases),
            **{f"provider_{p}": prefs.providers.get(p, True) for p in PROVIDERS},
        }

    def provider_fields(self) -> list[forms.BoundField]:
        return [self[f"provider_{provider}"] for provider in PROVIDERS]

    def clean_excluded_phrases(self) -> list[str]:
        phrases: list[str] = []
        for line in self.cleaned_data["excluded_phrases"].splitlines():
            phrase = line.strip()
            if phrase and phrase.casefold() not in {p.casefold() for p in phrases}:
                phrases.append(phrase)
        if len(phrases) > MAX_PHRASES:
            raise forms.ValidationError(f"At most {MAX_PHRASES} phrases.")
        too_long = [p for p in phrases if len(p) > MAX_PHRASE_CHARS]
        if too_long:
            raise forms.ValidationError(f"A phrase may be at most {MAX_PHRASE_CHARS} characters: {too_long[0][:40]}…")
        return phrases

    def changes(self) -> dict[str, Any]:
        """accounts.services.preferences_update's ``changes`` for the valid form."""
        data = self.cleaned_data
        return {
            "capture": data["capture"],
            "context": data["context"],
            "redact_pii": data["redact_pii"],
            "excluded_phrases": data["excluded_phrases"],
            "providers": {p: data[f"provider_{p}"] for p in PROVIDERS},
        }


EXPIRY_CHOICES = [("", "never"), ("7", "in 7 days"), ("30", "in 30 days"), ("90", "in 90 days"), ("365", "in a year")]


class AccessTokenForm(forms.Form):
    """A new personal access token: what it is for, read or write, and when it stops working."""

    name = forms.CharField(max_length=100, label="Name", help_text="What it is for, e.g. “Claude Desktop at home”.")
    scope = forms.ChoiceField(
        choices=[(TokenScope.READ, "read: search and list"), (TokenScope.WRITE, "write: also save and forget")],
        initial=TokenScope.READ,
        label="Scope",
    )
    expires = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")
    spaces = forms.TypedMultipleChoiceField(
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        label="Spaces it may use",
        required=False,
        help_text="It sees and saves only in these (none ticked: your default space); a call that names no space "
        "uses your default space when ticked, else the oldest ticked.",
    )

    def __init__(self, *args: Any, spaces: list[Any], **kwargs: Any):
        """``spaces``: the person's spaces, offered as choices (the default space ticked)."""
        super().__init__(*args, **kwargs)
        field = self.fields["spaces"]
        assert isinstance(field, forms.TypedMultipleChoiceField)
        field.choices = [(space.pk, space.name) for space in spaces]
        self.fields["spaces"].initial = [space.pk for space in spaces if space.is_default]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("This field is required.")
        return name

    def service_arguments(self) -> dict[str, Any]:
        """accounts.services.access_token_create's keywords for the valid form."""
        days = self.cleaned_data["expires"]
        return {
            "name": self.cleaned_data["name"],
            "scope": self.cleaned_data["scope"],
            "expires_at": timezone.now() + timedelta(days=int(days)) if days else None,
            "spaces": self.cleaned_data["spaces"] or None,
        }


class SignOutEverywhereForm(forms.Form):
    access_tokens = forms.BooleanField(
        required=False, label="Also revoke my access tokens (AI apps and scripts that use them stop working)"
    )


class AccountDeleteForm(forms.Form):
    """Deleting the account: the user name typed out, the password (an account made from a Supabase token has
    none), and a two-factor code when the account has one; accounts.services.user_reauthenticate checks the last
    two."""

    confirm = forms.CharField(max_length=150, label="Type your user name to confirm")
    password = forms.CharField(
        required=False, max_length=4096, strip=False, label="Your password", widget=forms.PasswordInput
    )
    code = forms.CharField(
        required=False,
        max_length=64,
        label="Two-factor code",
        help_text="From your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args: Any, username: str, needs_password: bool, needs_code: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.username = username
        self.fields["password"].required = needs_password
        self.fields["code"].required = needs_code
        if not needs_password:
            del self.fields["password"]
        if not needs_code:
            del self.fields["code"]

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip()
        if value != self.username:
            raise forms.ValidationError(f"Type your user name, {self.username}, exactly.")
        return value


# --- Spaces (webapp/space_views.py) -----------------------------------------------------------------------

SPACE_NAME_MAX_CHARS = 60  # accounts.models.SPACE_NAME_MAX_CHARS: the service checks it again
MAX_MOVE_IDS = 500


class SpaceNameForm(forms.Form):
    """A new space, or a new name for one."""

    name = forms.CharField(max_length=SPACE_NAME_MAX_CHARS, label="Name")

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("This field is required.")
        return name


class SpaceDeleteForm(forms.Form):
    """Deleting a space: what becomes of its memories is the person's explicit choice (no default)."""

    memories = forms.ChoiceField(
        choices=[("move", "Move them to another space"), ("delete", "Delete them for good")],
        widget=forms.RadioSelect,
        label="Its memories",
        error_messages={"required": "Choose whether its memories move to another space or are deleted."},
    )
    to = forms.IntegerField(required=False, min_value=1, label="Move them to")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("memories") == "move" and not data.get("to"):
            self.add_error("to", "Choose the space its memories move to.")
        if data.get("memories") == "delete":
            data["to"] = None  # the page always sends its "move to" choice: not asked for here
        return data


class SpaceMergeForm(forms.Form):
    into = forms.IntegerField(min_value=1, label="Merge into")


class IdsField(forms.Field):
    """Several memory ids from checkboxes sharing one name."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        ids: list[int] = []
        for raw in value or []:
            text = str(raw).strip()
            if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
                raise forms.ValidationError(f"{text[:20]!r} is not a memory.")
            if int(text) not in ids:
                ids.append(int(text))
        if len(ids) > MAX_MOVE_IDS:
            raise forms.ValidationError(f"At most {MAX_MOVE_IDS} memories at a time.")
        return ids


class MoveMemoriesForm(forms.Form):
    """Moving the memories ticked in the list to another space."""

    ids = IdsField(error_messages={"required": "Tick the memories to move first."})
    to = forms.IntegerField(min_value=1, label="Move the ticked memories to")
