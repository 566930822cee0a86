"""Domain errors: plain Python, no framework. Services and selectors raise them; the API edge (core.errors) maps
each type to its status code and the envelope. Nothing here knows about HTTP."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    def __init__(self, message: str, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class InvalidInput(ApplicationError):
    """The caller sent something that cannot be accepted as it is."""


class NotAuthenticated(ApplicationError):
    """The caller has not proved who they are yet (a second factor is missing or wrong)."""


class NotAllowed(ApplicationError):
    """The caller may not do this (another person's data, a missing permission)."""


class NotFound(ApplicationError):
    """The thing does not exist, or is not the caller's (never said apart)."""


class Conflict(ApplicationError):
    """The request contradicts the current state (an account that cannot be created for a token)."""


class TooLarge(ApplicationError):
    """Over a documented size cap."""


class Mismatch(ApplicationError):
    """A replay key reused with a different request."""


class Limited(ApplicationError):
    """Over a rate or quota; ``retry_after`` seconds until it may succeed, ``limits`` describes the quota."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: int,
        limits: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message, extra)
        self.retry_after = retry_after
        self.limits = limits or {}
