"""The direction of the house: no import cycle among the project's modules, and settings that start nothing."""

from __future__ import annotations

import subprocess

import grimp
import pytest

from config.tests.deploy_env import PYTHON, ROOT, clean_env

PACKAGES = ("config", "core", "accounts", "memories", "dashboard", "webapp", "mcp_server", "extension_api")


def test_it_has_no_import_cycle_anywhere_in_the_project() -> None:
    # grimp reads every import statement, function bodies included.
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    cycles = []
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            if ".tests" in importer or ".tests" in imported:
                continue
            chain = graph.find_shortest_chain(importer=imported, imported=importer)
            if chain:
                cycles.append(" -> ".join((importer, *chain)))
    assert cycles == []


@pytest.mark.slow
def test_it_starts_no_database_when_the_settings_are_imported(tmp_path) -> None:
    pgdata = tmp_path / "pgdata"
    env = clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DJANGO_SECRET_KEY="s" * 50,
        EMBEDDED_PGDATA=str(pgdata),
    )
    code = (
        "import django; django.setup(); import config.urls; from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'])"
    )
    result = subprocess.run([PYTHON, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "core.embedded_postgres"
    assert not pgdata.exists()  # never initialised, never started


def test_every_view_that_takes_a_personal_token_enforces_its_scope() -> None:
    """A view that sets its own permission_classes drops the default TokenScopePermission: it must then say how a
    read-only personal access token (or a connected app's read-only OAuth token) is held back (the scope check, or
    no access token at all)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    from accounts.authentication import OAuthTokenAuthentication, PersonalTokenAuthentication
    from accounts.permissions import NoAccessToken, TokenScopePermission
    from mcp_server.views import McpView

    def views(patterns):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from views(p.url_patterns)
            elif isinstance(p, URLPattern) and hasattr(p.callback, "cls"):
                yield p.callback.cls

    checked = 0
    for view in set(views(get_resolver().url_patterns)):
        if not {PersonalTokenAuthentication, OAuthTokenAuthentication} & {type(a) for a in view().get_authenticators()}:
            continue
        checked += 1
        permissions = {type(p) for p in view().get_permissions()}
        # /mcp: every message is a POST, so its tools check the scope (mcp_server.tools._require_write)
        assert view is McpView or permissions & {TokenScopePermission, NoAccessToken}, view
    assert checked >= 8
