"""render.yaml, production settings, `check --deploy`, /health and .env.example."""

from __future__ import annotations

import re
import shlex
import subprocess
from typing import Any

import pytest
import yaml
from django.core.management import get_commands
from django.test import override_settings

from config.tests.deploy_env import PYTHON, ROOT, clean_env, production_env

BLUEPRINT: dict[str, Any] = yaml.safe_load((ROOT / "render.yaml").read_text())


def _service(kind: str) -> dict[str, Any]:
    matches = [s for s in BLUEPRINT["services"] if s["type"] == kind]
    assert len(matches) == 1, f"expected one {kind} service in render.yaml"
    return matches[0]


def _env(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in service["envVars"]}


def _commands(service: dict[str, Any]) -> list[str]:
    keys = ("buildCommand", "preDeployCommand", "startCommand")
    return [part.strip() for key in keys if key in service for part in service[key].split("&&")]


def _manage_commands() -> list[str]:
    names = []
    for service in BLUEPRINT["services"]:
        for command in _commands(service):
            argv = shlex.split(command)
            if argv[:2] == ["python", "manage.py"]:
                names.append(argv[2])
    return sorted(set(names))


# --- render.yaml ---------------------------------------------------------------------------------------------


def test_it_describes_the_web_service():
    web = _service("web")
    assert web["runtime"] == "python"
    assert web["healthCheckPath"] == "/health"
    build = web["buildCommand"]
    assert "pip install torch==" in build and "--index-url https://download.pytorch.org/whl/cpu" in build
    assert build.index("torch==") < build.index("-r requirements.txt"), "CPU torch must be installed first"
    assert "collectstatic --noinput" in build
    assert web["preDeployCommand"] == "python manage.py migrate --noinput"
    start = shlex.split(web["startCommand"])
    assert start[0] == "gunicorn" and start[start.index("-c") + 1] == "gunicorn.conf.py"
    assert (ROOT / "gunicorn.conf.py").is_file()


def test_it_installs_the_torch_version_the_requirements_pin():
    pinned = re.search(r"^torch==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert pinned is not None
    for service in BLUEPRINT["services"]:
        if "buildCommand" in service:
            assert f"pip install torch=={pinned.group(1)} " in service["buildCommand"]


def test_it_wires_the_database_and_the_key_value_store_into_the_services():
    database = BLUEPRINT["databases"][0]
    cache = _service("keyvalue")
    assert cache["ipAllowList"] == [] and database["ipAllowList"] == []
    for service in (_service("web"), _service("cron")):
        env = _env(service)
        assert env["DATABASE_URL"]["fromDatabase"] == {"name": database["name"], "property": "connectionString"}
        assert env["REDIS_URL"]["fromService"] == {
            "type": "keyvalue",
            "name": cache["name"],
            "property": "connectionString",
        }
        assert service["region"] == database["region"] == cache["region"]


def test_it_generates_the_secret_key_and_leaves_the_other_secrets_to_fill_in():
    env = _env(_service("web"))
    assert env["DJANGO_SECRET_KEY"] == {"key": "DJANGO_SECRET_KEY", "generateValue": True}
    secrets_to_fill = [k for k in env if k == "ADMIN_API_KEY" or k.startswith("SUPABASE_")]
    assert {"ADMIN_API_KEY", "SUPABASE_JWT_SECRET", "SUPABASE_JWKS_URL"} <= set(secrets_to_fill)
    for key in secrets_to_fill:
        assert env[key] == {"key": key, "sync": False}, f"{key} must be a secret filled in on Render"
    cron_key = _env(_service("cron"))["DJANGO_SECRET_KEY"]["fromService"]
    assert cron_key == {"type": "web", "name": _service("web")["name"], "envVarKey": "DJANGO_SECRET_KEY"}


def test_it_rebuilds_the_search_index_nightly():
    cron = _service("cron")
    assert cron["startCommand"] == "python manage.py rebuild_index"
    minute, hour, day, month, weekday = cron["schedule"].split()
    assert minute.isdigit() and hour.isdigit() and (day, month, weekday) == ("*", "*", "*")


def test_the_cron_hands_its_index_to_the_web_service_through_the_database():
    # the cron instance and the web instances share no disk: only PostgreSQL reaches both
    web, cron = _env(_service("web")), _env(_service("cron"))
    assert web["FAISS_INDEX_STORE"]["value"] == cron["FAISS_INDEX_STORE"]["value"] == "database"
    assert web["SEARCH_BACKEND"]["value"] == "pgvector"  # FAISS is opt-in


@pytest.mark.parametrize("name", _manage_commands())
def test_every_management_command_it_names_exists(name):
    assert name in get_commands()


def test_every_file_it_names_exists():
    for service in BLUEPRINT["services"]:
        for command in _commands(service):
            argv = shlex.split(command)
            for flag in ("-r", "-c"):
                if flag in argv:
                    assert (ROOT / argv[argv.index(flag) + 1]).is_file(), command


def test_every_variable_it_sets_is_documented():
    documented = _documented_variables()
    for service in BLUEPRINT["services"]:
        for key in _env(service) if "envVars" in service else {}:
            assert key in documented, f"{key} (render.yaml) is missing from .env.example"


# --- .env.example --------------------------------------------------------------------------------------------


def _documented_variables() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, re.M))


def _variables_read_by(path: str, pattern: str) -> set[str]:
    return set(re.findall(pattern, (ROOT / path).read_text()))


_ENV_READ = r"(?:\benv(?:\.\w+)?|environ\.get|getenv|_int)\(\s*[\"']([A-Z][A-Z0-9_]+)[\"']"


def _variables_read_by_the_code() -> set[str]:
    # The settings, gunicorn, and any module that reads the environment directly; tests and benches set their own.
    skipped = {".venv", ".git", "var", "tests", "bench", "testkit", "node_modules"}
    paths = [p for p in ROOT.rglob("*.py") if not skipped & set(p.relative_to(ROOT).parts)]
    return {name for path in paths for name in _variables_read_by(str(path.relative_to(ROOT)), _ENV_READ)}


def test_it_lists_in_env_example_every_variable_the_code_reads():
    read = _variables_read_by_the_code()
    assert {"DJANGO_SECRET_KEY", "WEB_CONCURRENCY", "GUNICORN_THREADS", "LOG_FORMAT", "SEARCH_BACKEND"} <= read
    assert read - _documented_variables() == set(), "add these to .env.example with a one-line comment"


# --- production settings -------------------------------------------------------------------------------------


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
def test_check_deploy_passes_with_the_render_environment():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.slow
def test_check_deploy_fails_on_render_if_the_https_redirect_is_turned_off():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(DJANGO_SECURE_SSL_REDIRECT="0"))
    assert result.returncode != 0
    assert "security.W008" in result.stderr


def _settings_value(expression: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = f"from django.conf import settings; print({expression})"
    return subprocess.run(
        [PYTHON, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY"),
        ({"DATABASE_URL": ""}, "DATABASE_URL"),
    ],
)
def test_a_missing_required_setting_stops_start_up_with_its_name(env, name):
    result = _settings_value("settings.DEBUG", production_env(**env))
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} is not set" in result.stderr


def test_production_defaults_are_secure_and_render_hosts_are_trusted():
    result = _settings_value(
        "settings.DEBUG, settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS, settings.SESSION_COOKIE_SECURE,"
        " settings.CSRF_COOKIE_SECURE, settings.SECURE_PROXY_SSL_HEADER, settings.STORAGES['staticfiles']['BACKEND'],"
        " settings.ALLOWED_HOSTS[-1], settings.CSRF_TRUSTED_ORIGINS",
        production_env(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "False True 31536000 True True ('HTTP_X_FORWARDED_PROTO', 'https') "
        "whitenoise.storage.CompressedManifestStaticFilesStorage memorylayer-test.onrender.com "
        "['https://memorylayer-test.onrender.com']"
    )


def test_an_unknown_log_format_stops_start_up():
    result = _settings_value("settings.LOG_FORMAT", production_env(LOG_FORMAT="xml"))
    assert result.returncode != 0 and "LOG_FORMAT must be 'plain' or 'json'" in result.stderr


def test_local_development_still_starts_without_a_secret():
    env = clean_env(DJANGO_SETTINGS_MODULE="config.settings.base", DJANGO_DEBUG="1", DJANGO_SECRET_KEY="")
    env["DATABASE_URL"] = production_env()["DATABASE_URL"]
    result = _settings_value("settings.DEBUG, settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS", env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True False 0"


# --- /health -------------------------------------------------------------------------------------------------


def test_it_answers_health_without_auth_or_database(client):
    # No django_db mark: pytest-django refuses any query here, so a 200 proves /health does no database work.
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert response["X-Request-ID"]


def test_health_works_for_a_probe_over_plain_http_with_an_internal_host(client):
    with override_settings(SECURE_SSL_REDIRECT=True, ALLOWED_HOSTS=["memorylayer.onrender.com"]):
        probe = client.get("/health", HTTP_HOST="10.0.0.7:10000")
        api = client.get("/context/x", HTTP_HOST="memorylayer.onrender.com")
    assert probe.status_code == 200 and probe.json() == {"status": "ok"}
    assert api.status_code == 301 and api["Location"] == "https://memorylayer.onrender.com/context/x"


def test_the_health_route_is_in_the_urlconf_too(rf):
    from django.urls import resolve

    from dashboard import health

    assert resolve("/health").func is health.liveness
    assert health.liveness(rf.get("/health/")).status_code == 200


def test_health_refuses_other_methods_with_the_envelope(client):
    response = client.post("/health")
    assert response.status_code == 405
    assert response.json() == {"success": False, "error": "Method not allowed"}
    assert response["Allow"] == "GET, HEAD"
