# Two commands on a fresh machine: `make run` (set up, migrate, serve) and `make test` (set up, test).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup onnx-model run run-pooled pgbouncer test-pooled dev serve browser test test-fast test-e2e extension test-extension test-extension-unit lint lint-extension bench bench-scale clean

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# CPU torch first: it resolves from a local file here, and an unpinned torch would pull a CUDA build.
$(VENV)/.installed: $(PY) requirements.txt requirements-dev.txt constraints.txt
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements-dev.txt -c constraints.txt
	touch $@

var/secret_key:
	mkdir -p var
	$(PY) -c "import secrets; print(secrets.token_urlsafe(50))" > $@

# The packaged model exported to ONNX for EMBEDDING_BACKEND=onnx (local, no network; skipped when up to date).
onnx-model: $(VENV)/.installed
	$(PY) -m memories.embedding.onnx_export

setup: $(VENV)/.installed var/secret_key onnx-model

# What a user runs is what Render runs: gunicorn (gunicorn.conf.py, 2 workers x 4 threads) and the task queue's
# worker (procrastinate: embeddings, imports), both from the Procfile through honcho, on the embedded PostgreSQL,
# with DEBUG on for readable error pages and static files served from the apps by whitenoise.
RUN_ENV = DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-$$(cat var/secret_key)} DJANGO_DEBUG=$${DJANGO_DEBUG:-1} \
	GUNICORN_BIND=$${GUNICORN_BIND:-127.0.0.1:$(PORT)}

run: setup
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py mail_status
	$(RUN_ENV) exec $(VENV)/bin/honcho start -f Procfile

# `make run` with PgBouncer (transaction pooling) in front of the database, on PGBOUNCER_PORT (default 6432):
# gunicorn connects through it, the task queue's worker LISTENs on the server directly (docs/scale.md).
PGBOUNCER_PORT ?= 6432
run-pooled: setup pgbouncer
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) PGBOUNCER_PORT=$(PGBOUNCER_PORT) exec $(PY) -m testkit.pooled -- $(VENV)/bin/honcho start -f Procfile

# Debian's PgBouncer, for `make run-pooled` and the tests that start one (root or sudo).
pgbouncer:
	test -x /usr/sbin/pgbouncer || { $$(command -v sudo) apt-get update -qq && $$(command -v sudo) apt-get install -y -qq pgbouncer; }

# The whole suite through PgBouncer in front of a throwaway PostgreSQL (DATABASE_POOLER_URL set for the tests).
test-pooled: setup pgbouncer
	PGBOUNCER_PORT= $(PY) -m testkit.pooled --throwaway -- $(PY) -m pytest $(PYTEST_ARGS)

# Django's auto-reloading development server, for editing code.
dev: setup
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py mail_status
	$(RUN_ENV) $(PY) manage.py runserver 127.0.0.1:$(PORT)

# Production-like local run: DEBUG off, gunicorn (gunicorn.conf.py) with 2 workers on the embedded PostgreSQL,
# static files collected and served by whitenoise. Only the HTTPS redirect is off (plain HTTP on localhost), and
# without REDIS_URL the burst limiter's counters are per worker (the daily quota stays exact in PostgreSQL).
SERVE_ENV = DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-$$(cat var/secret_key)} DJANGO_DEBUG=0 \
	RATELIMIT_ALLOW_LOCAL_CACHE=$${RATELIMIT_ALLOW_LOCAL_CACHE:-1} DJANGO_SECURE_SSL_REDIRECT=0 DJANGO_ALLOWED_HOSTS=$${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost} \
	WEB_CONCURRENCY=$${WEB_CONCURRENCY:-2} GUNICORN_BIND=$${GUNICORN_BIND:-127.0.0.1:$(PORT)}

serve: setup
	$(SERVE_ENV) $(PY) manage.py migrate --noinput
	$(SERVE_ENV) $(PY) manage.py collectstatic --noinput -v 0
	$(SERVE_ENV) $(PY) manage.py check --deploy --fail-level WARNING
	$(SERVE_ENV) exec $(VENV)/bin/gunicorn -c gunicorn.conf.py

# Debian's chromium and firefox-esr for the browser tests (they run in `make test` and CI, never skipped there).
browser:
	command -v chromium >/dev/null || { $$(command -v sudo) apt-get update -qq && $$(command -v sudo) apt-get install -y -qq chromium; }
	command -v firefox-esr >/dev/null || { $$(command -v sudo) apt-get update -qq && $$(command -v sudo) apt-get install -y -qq firefox-esr; }

# The extension's npm tools (eslint, web-ext), pinned by extension/package-lock.json, in extension/node_modules.
EXT_NODE := extension/node_modules/.installed
$(EXT_NODE): extension/package.json extension/package-lock.json
	cd extension && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: setup browser pgbouncer $(EXT_NODE)
	$(PY) -m pytest
	node --test extension/tests/unit/

# The inner loop: everything but the tests marked slow (live servers, workers, fuzzing) or e2e (browsers).
# No coverage floor: a subset cannot meet the whole suite's. `make test` and CI still run everything.
test-fast: setup
	$(PY) -m pytest -m "not slow and not e2e" --no-cov

# The dashboard's headless-browser test (skipped by `make test` when Chromium is missing): installs Debian's
# chromium if needed (root or sudo), then runs it; screenshots land in test-artifacts/.
test-e2e: setup browser
	$(PY) -m pytest -m e2e --no-cov dashboard/tests/test_e2e_chromium.py

# The browser extension as zips (extension/ without its tests, tools and npm files), to load or upload elsewhere:
# Chrome's, and Firefox's from the same code with its manifest adapted (also unpacked in FIREFOX_DIR).
EXTENSION_ZIP ?= dist/memory-layer-extension.zip
FIREFOX_ZIP ?= dist/memory-layer-extension-firefox.zip
FIREFOX_DIR ?= dist/firefox
extension:
	rm -f $(EXTENSION_ZIP) $(FIREFOX_ZIP)
	python3 extension/tools/build_zip.py $(EXTENSION_ZIP)
	python3 extension/tools/build_zip.py $(FIREFOX_ZIP) --firefox $(FIREFOX_DIR)

# The extension's unit tests (node --test, no npm packages needed).
test-extension-unit:
	node --test extension/tests/unit/

# The extension's end-to-end tests: Debian's chromium with extension/ loaded, fake assistant sites over HTTPS,
# the real API on a live server; screenshots land in test-artifacts/.
test-extension: setup browser
	$(PY) -m pytest -p no:cacheprovider --no-cov extension/tests -q

lint: setup lint-extension
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

# eslint on the extension's code, and web-ext lint (Mozilla's add-on linter) on the Firefox package.
lint-extension: $(EXT_NODE) extension
	cd extension && npx eslint .
	cd extension && npx web-ext lint --source-dir ../$(FIREFOX_DIR)

bench: setup
	$(PY) bench/api_latency.py

bench-scale: setup
	$(PY) bench/scale.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage dist

.PHONY: bench-locomo
# Evidence recall of /context on LoCoMo (data read from ../shared/data/locomo/); SPLIT=dev|heldout|all.
bench-locomo: setup
	$(PY) bench/locomo.py --split $${SPLIT:-dev}
