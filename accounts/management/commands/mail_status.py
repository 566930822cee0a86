from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand


def mail_destination() -> str:
    """Where the mail this process sends (sign-up verification, password resets) goes, in one sentence."""
    backend = settings.EMAIL_BACKEND
    if backend == "django.core.mail.backends.filebased.EmailBackend":
        return f"each message is written as a file under {settings.EMAIL_FILE_PATH}/ (EMAIL_URL is unset)"
    if backend == "django.core.mail.backends.smtp.EmailBackend":
        security = "SSL" if settings.EMAIL_USE_SSL else "STARTTLS" if settings.EMAIL_USE_TLS else "no TLS"
        return f"sent by SMTP through {settings.EMAIL_HOST}:{settings.EMAIL_PORT} ({security})"
    return f"handed to {backend}"


class Command(BaseCommand):
    help = "Say where outgoing mail goes (files under var/mail/, or SMTP from EMAIL_URL); `make run` prints it."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Mail: {mail_destination()}.")
