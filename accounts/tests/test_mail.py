"""Where mail goes: files under var/mail/ unless EMAIL_URL names an SMTP server; `make run` says which."""

from __future__ import annotations

import io
from pathlib import Path

import environ
import pytest
import yaml
from django.conf import settings as django_settings
from django.core.management import call_command

ROOT = Path(django_settings.BASE_DIR)


def _status() -> str:
    out = io.StringIO()
    call_command("mail_status", stdout=out)
    return out.getvalue()


def test_it_says_mail_is_written_to_files_when_no_smtp_is_set(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    assert _status() == f"Mail: each message is written as a file under {tmp_path / 'mail'}/ (EMAIL_URL is unset).\n"


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("smtp+tls://me:secret@smtp.example.com:587", "smtp.example.com:587 (STARTTLS)"),
        ("smtp+ssl://me:secret@smtp.example.com:465", "smtp.example.com:465 (SSL)"),
    ],
)
def test_it_reads_smtp_from_email_url_and_never_prints_the_password(settings, monkeypatch, url, said):
    monkeypatch.setenv("EMAIL_URL", url)
    for name, value in environ.Env().email_url("EMAIL_URL").items():
        setattr(settings, name, value)
    status = _status()
    assert said in status and "secret" not in status and "me:" not in status


def test_the_makefile_says_where_mail_goes_when_it_starts_the_server():
    makefile = (ROOT / "Makefile").read_text()
    run = makefile[makefile.index("\nrun: ") : makefile.index("\ndev: ")]
    assert "manage.py mail_status" in run


def test_render_verifies_addresses_and_asks_for_an_smtp_url():
    blueprint = yaml.safe_load((ROOT / "render.yaml").read_text())
    web = next(s for s in blueprint["services"] if s["type"] == "web")
    env = {item["key"]: item for item in web["envVars"]}
    assert env["ACCOUNT_EMAIL_VERIFICATION"]["value"] == "mandatory"
    assert env["EMAIL_URL"] == {"key": "EMAIL_URL", "sync": False}
