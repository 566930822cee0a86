"""The browser extension end to end: Debian's Chromium with extension/ loaded, driven by Playwright.

- The assistants' sites are small fakes (tests/fakes/*.html) served over HTTPS from this process with a
  self-signed certificate made by the openssl CLI; Chromium reaches them under their real host names through
  --host-resolver-rules, so the manifest's content-script matches apply unchanged.
- The Memory Layer server is `make run` itself (gunicorn, the real API and the page at /app/, real embedding
  model) on this session's test database, behind a TCP gate this test can switch off, to play a server that is
  down.
- The extension is configured the way a person does it: its options page, its popup (opened as a tab).

The extension reaches the server because the server allows its origin by CORS (CORS_ALLOWED_EXTENSION_IDS, as
in production): a headless browser cannot answer the host-permission prompt.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings as django_settings

from memories.models import Memory
from testkit import client_for, make_user
from testkit.browser import CHROMIUM
from testkit.processes import Served, make_run, wait_for

EXTENSION = Path(__file__).resolve().parent.parent
FAKES = Path(__file__).resolve().parent / "fakes"
ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts"
SITES = {
    "chatgpt.com": "chatgpt",
    "chat.openai.com": "chatgpt",
    "claude.ai": "claude",
    "gemini.google.com": "gemini",
    "grok.com": "grok",
}
URLS = {
    "chatgpt": "https://chatgpt.com/",
    "claude": "https://claude.ai/new",
    "gemini": "https://gemini.google.com/app",
    "grok": "https://grok.com/",
}
EDITOR = "[data-fake-editor]"
BLOCK_START = "[Memory Layer context — from your earlier chats]"

browser_missing = not (Path(CHROMIUM).exists() and shutil.which("openssl"))
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(browser_missing, reason="needs /usr/bin/chromium and openssl (make browser installs chromium)"),
]


# ------------------------------------------------------------------------------------------------ helpers


def memories_of(user: Any) -> list[Memory]:
    return list(Memory.objects.filter(user=user).order_by("id"))


class FakeSites:
    """HTTPS server for the fake chat pages, chosen by the Host header."""

    def __init__(self, cert: Path, key: Path) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0]
                path = self.path.split("?")[0]
                if path in ("/fake.js", "/fake.css"):
                    body = (FAKES / path[1:]).read_bytes()
                    kind = "text/javascript" if path.endswith(".js") else "text/css"
                elif host in SITES:
                    body = (FAKES / f"{SITES[host]}.html").read_bytes()
                    kind = "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Gate:
    """A TCP forwarder in front of the live server. Switched off, it drops every connection (a server that is
    down); switching off also cuts the connections the browser keeps alive."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.up = True
        self.delay = 0.0
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        if self.delay:
            time.sleep(self.delay)  # a slow server: nothing comes back for a while
        try:
            upstream = socket.create_connection(self.target, timeout=5)
            upstream.settimeout(None)
        except OSError:
            client.close()
            return
        with self.lock:
            self.sockets.update((client, upstream))
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self._close(s)

    def _close(self, s: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(s)
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        s.close()

    def down(self) -> None:
        self.up = False
        with self.lock:
            open_sockets = list(self.sockets)
        for s in open_sockets:
            self._close(s)

    def slow(self, seconds: float) -> None:
        """New connections wait `seconds` before reaching the server (the open ones are cut so none escape)."""
        self.down()
        self.delay = seconds
        self.up = True

    def close(self) -> None:
        self.down()
        self.listener.close()


class Browser:
    def __init__(self, context: Any, extension_id: str) -> None:
        self.context = context
        self.id = extension_id

    def url(self, page: str) -> str:
        return f"chrome-extension://{self.id}/{page}"

    def open(self, url: str) -> Any:
        page = self.context.new_page()
        page.goto(url)
        return page

    def reset(self) -> None:
        """Forget everything the extension stored (account, options, queue, switches)."""
        page = self.open(self.url("options.html"))
        page.evaluate("chrome.storage.local.clear()")
        page.close()

    def sign_in(self, base_url: str, username: str, password: str, **options: Any) -> None:
        self.reset()
        page = self.open(self.url("options.html"))
        page.wait_for_selector("body[data-ready=true]")
        page.fill("#base-url", base_url)
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("#sign-in")
        page.wait_for_function(
            "() => document.getElementById('sign-in-result').textContent.startsWith('Signed in as')", timeout=15000
        )
        if options:
            self.set_options(page, **options)
        page.close()

    def set_options(self, page: Any, *, timeout_ms: int | None = None, max_tokens: int | None = None) -> None:
        if timeout_ms is not None:
            page.fill("#timeout-ms", str(timeout_ms))
        if max_tokens is not None:
            page.fill("#max-tokens", str(max_tokens))
        page.click("#save")
        # Polled on a timer, not on animation frames: a page Chromium counts as hidden gets none (two runs through
        # PgBouncer on a loaded machine waited 30 s here once each, after the sign-in had succeeded).
        page.wait_for_function("() => document.getElementById('saved').textContent === 'Saved.'", polling=100)

    def session(self, key: str) -> Any:
        page = self.open(self.url("options.html"))
        value = page.evaluate(f"chrome.storage.session.get({json.dumps(key)}).then(r => r[{json.dumps(key)}])")
        page.close()
        return value

    def stored(self, key: str) -> Any:
        page = self.open(self.url("options.html"))
        value = page.evaluate(f"chrome.storage.local.get({json.dumps(key)}).then(r => r[{json.dumps(key)}])")
        page.close()
        return value


def chat(browser: Browser, provider: str, query: str = "") -> Any:
    page = browser.open(URLS[provider] + (f"?{query}" if query else ""))
    page.wait_for_function("() => window.__sent !== undefined")
    # The content script is ready once the worker's view and adapters reached it.
    page.wait_for_function("() => document.documentElement.dataset.memoryLayer === 'ready'")
    return page


def type_prompt(page: Any, provider: str, text: str) -> None:
    page.click(EDITOR)
    page.keyboard.type(text)


def sent(page: Any) -> list[str]:
    return page.evaluate("window.__sent")


def normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    names = ",".join(f"DNS:{host}" for host in SITES)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=chatgpt.com",
         "-addext", f"subjectAltName={names}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def fake_sites(certificate: tuple[Path, Path]) -> Iterator[FakeSites]:
    server = FakeSites(*certificate)
    yield server
    server.close()


@pytest.fixture(scope="module")
def _sync_orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API keeps an event loop in this thread, which makes Django refuse ORM calls here (and in
    the database teardown) although they are plain sync code: allowed for this module's tests only."""
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if before is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="module")
def browser(
    _sync_orm_beside_playwright: None, fake_sites: FakeSites, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    rules = ", ".join(f"MAP {host} 127.0.0.1:{fake_sites.port}" for host in SITES)
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=False,
            args=[
                "--headless=new",
                "--no-sandbox",
                f"--disable-extensions-except={EXTENSION}",
                f"--load-extension={EXTENSION}",
                f"--host-resolver-rules={rules}",
                "--ignore-certificate-errors",
                "--no-first-run",
                "--disable-background-networking",
            ],
            ignore_https_errors=True,
            viewport={"width": 1100, "height": 760},
        )
        worker = context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")
        # The content script's marks on <html> (ready, sends, finished answers) that the tests wait on.
        worker.evaluate("chrome.storage.session.set({testMarks: true})")
        yield Browser(context, worker.url.split("/")[2])
        context.close()


def start_make_run(extension_id: str, log_path: Path) -> Served:
    """`make run` (gunicorn with the project's gunicorn.conf.py and the queue's worker, what a person starts) on a
    free port, against this session's test database, so the test reads what it stored. It verifies this process's
    tokens (same secret) and allows the extension's origin by CORS the way production does."""
    from django.db import connection

    from config.tests.deploy_env import clean_env, session_database_url

    url = urlsplit(session_database_url())
    database_url = urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))
    env = clean_env(
        DATABASE_URL=database_url,
        DJANGO_SECRET_KEY=django_settings.SECRET_KEY,
        CORS_ALLOWED_EXTENSION_IDS=extension_id,
        RATELIMIT_API_RATE="100000/m",
        RATELIMIT_AUTH_RATE="1000/m",
        EXTENSION_ADAPTERS_CACHE_SECONDS="0",  # an override saved by a test is served at once
    )
    served = make_run(env=env, log_path=log_path)
    served.wait_ready()
    return served


@pytest.fixture(scope="module")
def served(django_db_setup: None, browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_make_run(browser.id, tmp_path_factory.mktemp("make-run") / "make-run.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gate(served: Served) -> Iterator[Gate]:
    assert served.port is not None
    gate = Gate(("127.0.0.1", served.port))
    yield gate
    gate.close()


@pytest.fixture(scope="module")
def _model_loaded() -> None:
    """Loads the embedding model once, before the first timed request (the live server shares this process)."""
    from memories.embedding.embeddings import get_model

    get_model()


# The served app's work still running on the test database: its queue's due jobs and its busy connections.
_BUSY_SQL = """
SELECT (SELECT count(*) FROM procrastinate_jobs
        WHERE status = 'doing' OR (status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())))
     + (SELECT count(*) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
          AND state <> 'idle')
"""


def _served_app_quiet(timeout: float = 30) -> None:
    """Wait (best effort) until the served app has finished the test's work. Each test's tables are emptied with
    one TRUNCATE of every table, which takes its locks table by table: a job or request of the served app that
    holds one table and waits for another deadlocks with it (seen: "deadlock detected" at teardown, and the next
    test's sign-in failing on the half-emptied database)."""
    from django.db import connection

    def quiet() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(_BUSY_SQL)
            return cursor.fetchone()[0] == 0

    with contextlib.suppress(AssertionError):  # wait_for timed out: TRUNCATE anyway
        wait_for(quiet, what="the served app idle", timeout=timeout)


@pytest.fixture
def env(browser: Browser, gate: Gate, _model_loaded: None, transactional_db: None) -> Iterator[Any]:
    gate.up, gate.delay = True, 0.0
    yield browser
    for page in list(browser.context.pages):
        if not page.url.startswith("about:"):
            page.close()
    # Torn down before transactional_db (set up after it): the TRUNCATE comes after this.
    _served_app_quiet()


_users = iter(range(1, 10_000))
PASSWORD = "violet-harbour-lantern-42"


@pytest.fixture
def person(env: Browser, gate: Gate) -> Any:
    """A new account made as a person makes one: POST /auth/register on the server (with PASSWORD)."""
    from accounts.models import User

    username = f"person{next(_users)}"
    body = json.dumps({"username": username, "email": f"{username}@example.com", "password": PASSWORD})
    request = urllib.request.Request(f"{gate.url}/auth/register", data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 201
    return User.objects.get(username=username)


def signed_in(env: Browser, gate: Gate, person: Any, **options: Any) -> Browser:
    env.sign_in(gate.url, person.username, PASSWORD, **options)
    return env


# ------------------------------------------------------------------------------------------------ tests


def test_manifest_names_only_files_that_exist() -> None:
    manifest = json.loads((EXTENSION / "manifest.json").read_text())
    assert manifest["manifest_version"] == 3
    assert manifest["background"] == {"service_worker": "background.js", "type": "module"}
    assert set(manifest["permissions"]) == {"storage", "alarms"}
    assert manifest["optional_host_permissions"] == ["http://*/*", "https://*/*"]
    named = [
        manifest["background"]["service_worker"],
        manifest["action"]["default_popup"],
        manifest["options_ui"]["page"],
        *manifest["icons"].values(),
        *manifest["action"]["default_icon"].values(),
    ]
    named += [js for entry in manifest["content_scripts"] for js in entry["js"]]  # fmt: skip
    for name in named:
        assert (EXTENSION / name).is_file(), name
    for size, name in manifest["icons"].items():
        data = (EXTENSION / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(data[16:20], "big") == int(size)
    # No remote code: every script an extension page loads is a local file.
    for page in ("popup.html", "options.html"):
        html = (EXTENSION / page).read_text()
        assert "<script>" not in html and "http" not in re.sub(r"<!--.*?-->", "", html).split("<body")[0]
        for src in re.findall(r'src="([^"]+)"', html):
            assert (EXTENSION / src).is_file(), src
    matches = {m for entry in manifest["content_scripts"] for m in entry["matches"]}
    assert matches == {"https://chatgpt.com/*", "https://chat.openai.com/*", "https://claude.ai/*",
                       "https://gemini.google.com/*", "https://grok.com/*"}  # fmt: skip


def test_make_extension_zips_the_extension_without_tests(tmp_path: Path) -> None:
    root = EXTENSION.parent
    out, firefox, unpacked = tmp_path / "chrome.zip", tmp_path / "firefox.zip", tmp_path / "firefox"
    targets = [f"EXTENSION_ZIP={out}", f"FIREFOX_ZIP={firefox}", f"FIREFOX_DIR={unpacked}"]
    subprocess.run(["make", "-s", "extension", *targets], cwd=root, check=True, timeout=60)
    names = zipfile.ZipFile(out).namelist()
    assert "manifest.json" in names and "background.js" in names and "icons/icon128.png" in names
    assert "adapters/claude.json" in names and "lib/contextblock.js" in names
    assert not [n for n in names if n.startswith(("tests/", "node_modules/")) or n.endswith((".py", ".pyc"))]
    assert not {"package.json", "package-lock.json", "eslint.config.js"} & set(names)
    # Firefox: the same files, its manifest with an event page and gecko settings.
    assert sorted(zipfile.ZipFile(firefox).namelist()) == sorted(names)
    manifest = json.loads(zipfile.ZipFile(firefox).read("manifest.json"))
    assert manifest["background"] == {"scripts": ["background.js"], "type": "module"}
    assert manifest["browser_specific_settings"]["gecko"]["id"]
    assert json.loads((unpacked / "manifest.json").read_text()) == manifest


@pytest.mark.django_db
def test_context_accepts_max_tokens() -> None:
    user = make_user("maxtokens")
    response = client_for(user).get(f"/context/{user.pk}", {"query": "anything", "max_tokens": "600"})
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 0


def test_sign_in_with_a_password_and_save_the_options(env: Browser, gate: Gate, person: Any) -> None:
    env.sign_in(gate.url, person.username, PASSWORD)
    page = env.open(env.url("options.html"))
    page.wait_for_selector("body[data-ready=true]")
    assert person.username in page.text_content("#account-status")
    assert str(person.pk) in page.text_content("#account-status")
    env.set_options(page, timeout_ms=1200, max_tokens=300)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.input_value("#timeout-ms") == "1200"
    assert page.input_value("#max-tokens") == "300"
    assert page.input_value("#base-url") == gate.url
    page.close()
    auth = env.stored("auth")
    assert auth["userId"] == str(person.pk) and auth["refresh"] and auth["accessExp"] > time.time() * 1000
    assert env.stored("options")["maxTokens"] == 300

    # An access token about to expire is refreshed before the next call.
    page = env.open(env.url("options.html"))
    page.evaluate(
        """async () => {
            const {auth} = await chrome.storage.local.get('auth');
            await chrome.storage.local.set({auth: {...auth, accessExp: Date.now() + 5000}});
            await chrome.runtime.sendMessage({type: 'refresh-settings'});
        }"""
    )
    page.close()
    fresh = env.stored("auth")
    assert fresh["access"] != auth["access"] and fresh["accessExp"] > time.time() * 1000 + 10 * 60 * 1000

    # A pasted access token (what a Supabase sign-in gives) works instead of a password.
    from rest_framework_simplejwt.tokens import AccessToken

    env.reset()
    page = env.open(env.url("options.html"))
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#base-url", gate.url)
    page.fill("#token", str(AccessToken.for_user(person)))
    page.click("#use-token")
    page.wait_for_function("() => document.getElementById('sign-in-result').textContent.startsWith('Signed in as')")
    assert f"Signed in as {person.username}" in page.text_content("#sign-in-result")
    auth = env.stored("auth")
    assert auth["mode"] == "token" and auth["userId"] == str(person.pk) and auth["refresh"] is None


def test_context_is_added_before_sending_and_the_chip_counts_it(env: Browser, gate: Gate, person: Any) -> None:
    remembered = "My dog is a golden retriever called Max and he loves swimming in the lake."
    assert client_for(person).post("/save-prompt", {"prompt": remembered, "provider": "claude"},
                                   format="json").status_code == 201  # fmt: skip
    signed_in(env, gate, person, timeout_ms=3000)
    page = chat(env, "chatgpt")
    prompt = "What breed is my dog Max?"
    type_prompt(page, "chatgpt", prompt)
    page.keyboard.press("Enter")

    page.wait_for_function("() => window.__sent.length === 1", timeout=6000)
    received = sent(page)[0]
    assert received.startswith(BLOCK_START)
    assert "golden retriever" in received
    assert "[/Memory Layer context]" in received
    assert normalized(received).endswith(prompt)

    count = page.locator("#memory-layer-chip .count")
    count.wait_for()
    assert re.fullmatch(r"1 memory used", count.text_content())

    def chip_above_editor() -> bool:
        chip_box = page.locator("#memory-layer-chip .chip").bounding_box()
        editor_box = page.locator(EDITOR).bounding_box()
        return bool(chip_box and editor_box) and 0 <= editor_box["y"] - (chip_box["y"] + chip_box["height"]) <= 16

    wait_for(chip_above_editor, what="the chip just above the prompt box", timeout=10)
    count.click()
    preview = page.locator("#memory-layer-chip .preview")
    preview.wait_for()
    assert "golden retriever" in preview.text_content()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "extension-chatgpt-chip.png"))

    # What is saved is the prompt as the person wrote it, without the block the extension added.
    saved = wait_for(lambda: [m for m in memories_of(person) if m.kind == "prompt" and m.text != remembered],
                     what="the saved prompt", timeout=10)  # fmt: skip
    assert [m.text for m in saved] == [prompt]
    answer = wait_for(lambda: [m for m in memories_of(person) if m.kind == "response"], timeout=15, what="answer")
    assert answer[0].prompt == prompt
    assert not [m for m in memories_of(person) if "Memory Layer context" in m.text + m.prompt]


def test_an_unrelated_prompt_goes_out_unchanged(env: Browser, gate: Gate, person: Any) -> None:
    for text in ("My dog is a golden retriever called Max and he loves swimming in the lake.",
                 "We agreed the kitchen tiles will be dark green, matte, 10 by 10 cm."):  # fmt: skip
        assert client_for(person).post("/save-prompt", {"prompt": text}, format="json").status_code == 201
    signed_in(env, gate, person, timeout_ms=3000)
    page = chat(env, "chatgpt")
    prompt = "Explain the difference between TCP and UDP in two sentences."
    type_prompt(page, "chatgpt", prompt)
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__sent.length === 1", timeout=6000)
    assert sent(page) == [prompt]  # nothing of the dog or the tiles pasted into a networking question
    saved = wait_for(lambda: [m for m in memories_of(person) if m.text == prompt], what="the saved prompt", timeout=10)
    assert saved[0].kind == "prompt"


def test_send_without_memories(env: Browser, gate: Gate, person: Any) -> None:
    remembered = "I am allergic to peanuts and cashews, so recipes must avoid them."
    assert client_for(person).post("/save-prompt", {"prompt": remembered}, format="json").status_code == 201
    signed_in(env, gate, person, timeout_ms=3000)
    page = chat(env, "claude")
    prompt = "Suggest a recipe with nuts that I can eat"
    type_prompt(page, "claude", prompt)
    skip = page.locator("#memory-layer-chip .skip")
    skip.wait_for()
    assert skip.text_content() == "Send without memories"
    skip.click()

    page.wait_for_function("() => window.__sent.length === 1", timeout=5000)
    assert sent(page) == [prompt]
    assert page.locator("#memory-layer-chip .count").text_content() == "Sent without memories"
    saved = wait_for(lambda: [m for m in memories_of(person) if m.kind == "prompt" and m.text == prompt],
                     what="the saved prompt", timeout=10)  # fmt: skip
    assert saved[0].provider == "claude"


def test_server_down_sends_unchanged_and_queues_then_drains(env: Browser, gate: Gate, person: Any) -> None:
    signed_in(env, gate, person)  # the default 800 ms wait for context
    page = chat(env, "claude")
    gate.down()
    prompt = "Remind me what we decided about the kitchen tiles"
    type_prompt(page, "claude", prompt)
    started = time.monotonic()
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__sent.length === 1", timeout=5000)
    elapsed = time.monotonic() - started
    assert sent(page) == [prompt]
    assert elapsed < 1.5, f"the prompt waited {elapsed:.2f} s for a server that is down"

    popup = env.open(env.url("popup.html"))
    popup.wait_for_function("() => document.getElementById('queue-count').textContent === '2'", timeout=15000)
    items = popup.text_content("#queue-items")
    assert "Claude prompt" in items and "Claude answer" in items and "could not reach the server" in items
    ARTIFACTS.mkdir(exist_ok=True)
    popup.screenshot(path=str(ARTIFACTS / "extension-popup-queue.png"))
    assert memories_of(person) == []
    queued = env.stored("queue")
    assert {q["kind"] for q in queued} == {"prompt", "response"} and all(q["attempts"] >= 1 for q in queued)
    assert all(q["nextAt"] > time.time() * 1000 for q in queued)  # waiting for their backoff alarm

    gate.up = True
    popup.click("#retry")
    popup.wait_for_function("() => document.getElementById('queue-count').textContent === '0'", timeout=15000)
    saved = memories_of(person)
    assert sorted((m.kind, m.text if m.kind == "prompt" else m.prompt) for m in saved) == [
        ("prompt", prompt),
        ("response", prompt),
    ]
    popup.screenshot(path=str(ARTIFACTS / "extension-popup.png"))

    # "Open my memories": a one-time sign-in link (POST /auth/web-login-link) opens the person's page, signed in,
    # with what the extension saved on it.
    with env.context.expect_page() as opened:
        popup.click("#open-memories")
    mine = opened.value
    mine.wait_for_load_state()
    assert mine.url == f"{gate.url}/app/"
    assert person.username in mine.text_content("header")
    assert prompt in mine.text_content("body")
    mine.screenshot(path=str(ARTIFACTS / "extension-open-my-memories.png"))


def test_a_site_switched_off_saves_nothing(env: Browser, gate: Gate, person: Any) -> None:
    signed_in(env, gate, person, timeout_ms=3000)
    page = chat(env, "gemini")  # open before the switch: the change reaches a page already loaded
    popup = env.open(env.url("popup.html"))
    popup.wait_for_selector("body[data-ready=true]")
    popup.uncheck("#site-gemini")
    wait_for(lambda: env.stored("sites") == {"chatgpt": True, "claude": True, "gemini": False, "grok": True},
             what="the switch stored", timeout=10)  # fmt: skip
    wait_for(lambda: env.session("view")["capture"]["gemini"] is False, what="the view published", timeout=10)
    page.bring_to_front()
    prompt = "This one must not be remembered"
    type_prompt(page, "gemini", prompt)
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__sent.length === 1", timeout=5000)
    assert sent(page) == [prompt]
    # The extension saw the send (and, capture being off here, kept nothing of it).
    page.wait_for_function("() => document.documentElement.dataset.memoryLayerSent === '1'", timeout=10000)
    page.wait_for_function("() => window.__idle()", timeout=10000)
    assert memories_of(person) == []
    assert not env.stored("queue")


def test_a_slow_server_does_not_hold_the_prompt(env: Browser, gate: Gate, person: Any) -> None:
    remembered = "We agreed the kitchen tiles will be dark green, matte, 10 by 10 cm."
    assert client_for(person).post("/save-prompt", {"prompt": remembered}, format="json").status_code == 201
    signed_in(env, gate, person)  # the default 800 ms wait for context
    page = chat(env, "grok")
    gate.slow(3.0)
    prompt = "Remind me what we decided about the kitchen tiles"
    type_prompt(page, "grok", prompt)
    started = time.monotonic()
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__sent.length === 1", timeout=5000)
    elapsed = time.monotonic() - started
    assert sent(page) == [prompt]  # the context came too late: sent as typed
    assert 0.7 < elapsed < 1.6, f"sent after {elapsed:.2f} s"
    # The saves only took longer: they arrive without going through the queue's backoff.
    wait_for(lambda: {m.kind for m in memories_of(person)} >= {"prompt", "response"} and len(memories_of(person)) == 3,
             timeout=20, what="both saves")  # fmt: skip
    assert not [q for q in env.stored("queue") or [] if q["attempts"]]


def test_pause_and_server_settings_are_honoured(env: Browser, gate: Gate, person: Any) -> None:
    remembered = "My favourite city for a weekend is Lisbon, for the tiles and the custard tarts."
    assert client_for(person).post("/save-prompt", {"prompt": remembered}, format="json").status_code == 201
    signed_in(env, gate, person, timeout_ms=3000)
    popup = env.open(env.url("popup.html"))
    popup.wait_for_selector("body[data-ready=true]")
    popup.click("#pause")
    popup.wait_for_function("() => document.getElementById('pause-state').textContent.startsWith('Capture paused')")
    wait_for(lambda: env.session("view")["pausedUntil"] > time.time() * 1000, what="the pause published", timeout=10)
    page = chat(env, "claude")
    type_prompt(page, "claude", "Where should I go for a weekend?")
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__sent.length === 1", timeout=5000)
    assert sent(page)[0].startswith(BLOCK_START)  # paused capture still adds context
    page.wait_for_function("() => document.documentElement.dataset.memoryLayerSent === '1'", timeout=10000)
    page.wait_for_function("() => window.__idle()", timeout=10000)
    assert [m.text for m in memories_of(person)] == [remembered]

    # The account's own settings (PATCH /me/settings, as on /app/settings/): context off and claude off. The
    # prompt then goes out at once, untouched, and nothing is saved.
    popup.click("#resume")
    changed = client_for(person).patch("/me/settings", {"context": False, "providers": {"claude": False}},
                                       format="json")  # fmt: skip
    assert changed.status_code == 200, changed.content
    popup.evaluate("chrome.runtime.sendMessage({type: 'refresh-settings'})")
    popup.reload()
    popup.wait_for_selector("body[data-ready=true]")
    assert "off in your account" in popup.text_content("#sites")
    wait_for(lambda: env.session("view")["capture"]["claude"] is False, what="the settings published", timeout=10)
    page.reload()
    page.wait_for_function("() => document.documentElement.dataset.memoryLayer === 'ready'")
    type_prompt(page, "claude", "Where should I go next weekend?")
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__sent.length === 1", timeout=5000)
    assert sent(page) == ["Where should I go next weekend?"]
    assert (
        page.locator("#memory-layer-chip .chip").count() == 0
        or not page.locator("#memory-layer-chip .chip").is_visible()
    )
    page.wait_for_function("() => document.documentElement.dataset.memoryLayerSent === '1'", timeout=10000)
    page.wait_for_function("() => window.__idle()", timeout=10000)
    assert [m.text for m in memories_of(person)] == [remembered]


# ------------------------------------------------------------------------------------------ the real sites' layouts

# Page furniture that must never reach a saved answer (screen-reader headings, status rows, thinking panels,
# reasoning headers, action bars, times), in every language the fakes speak.
FURNITURE = ("Claude responded", "Claudeが返答しました", "Thinking", "Thought", "考え中", "思考プロセス", "Just now",
             "たった今", "Gemini said", "weighing the question", "ChatGPT said", "Copy", "⧉", "Generating")  # fmt: skip


def send_by(page: Any, how: str) -> None:
    if how == "enter":
        page.keyboard.press("Enter")
    elif how == "mod-enter":
        page.keyboard.press("Control+Enter")
    else:
        page.click(how)  # the site's own send control, by a language-neutral hook


def exchange_done(page: Any, person: Any, answers: int, prompts: int | None = None) -> list[Memory]:
    """Waits until the page produced `answers` answers, the extension finished as many, and the server holds them
    with `prompts` prompts (as many as answers unless told)."""
    page.wait_for_function(
        f"() => window.__answers.length === {answers} && window.__answers.every(Boolean)", timeout=20000
    )
    page.wait_for_function(f"() => document.documentElement.dataset.memoryLayerDone === '{answers}'", timeout=30000)
    want = {"response": answers, "prompt": answers if prompts is None else prompts}

    def stored() -> list[Memory]:
        saved = memories_of(person)
        kinds = {kind: len([m for m in saved if m.kind == kind]) for kind in want}
        return saved if kinds == want else []

    return wait_for(stored, timeout=20, what=f"{want} saved")


SCENARIOS = {
    # name: (provider, query, how to send)
    "chatgpt-app-pause": ("chatgpt", "layout=app&pause=2500", "enter"),
    "chatgpt-app-cmd-enter": ("chatgpt", "layout=app", "mod-enter"),
    "chatgpt-thread": ("chatgpt", "layout=thread", "enter"),
    "chatgpt-thread-ja-button": ("chatgpt", "layout=thread&lang=ja", "button[data-composer-submit]"),
    "chatgpt-signed-out": ("chatgpt", "layout=signed-out", "enter"),
    "chatgpt-signed-out-ko-cmd-enter": ("chatgpt", "layout=signed-out&lang=ko", "mod-enter"),
    "claude-classic-button": ("claude", "layout=classic", "button[aria-label='Send message']"),
    "claude-hub-thinking": ("claude", "layout=hub&think=2000", "enter"),
    "claude-hub-ja-button-thinking": ("claude", "layout=hub&lang=ja&think=3000", "button[data-testid=chat-input-send]"),
    "claude-hub-ja-enter-thinking": ("claude", "layout=hub&lang=ja&think=3000", "enter"),
    "gemini-thoughts": ("gemini", "thoughts=1", "enter"),
    "gemini-ko-button-pause": ("gemini", "lang=ko&pause=2500", "button.send-button"),
    "grok-reasoning-remount": ("grok", "thoughts=1&remount=1", "enter"),
    "grok-ko-button": ("grok", "lang=ko&thoughts=1", "button[data-testid=chat-submit]"),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_each_layout_saves_one_prompt_and_one_clean_answer(
    env: Browser, gate: Gate, person: Any, scenario: str
) -> None:
    provider, query, how = SCENARIOS[scenario]
    signed_in(env, gate, person, timeout_ms=3000)
    page = chat(env, provider, query)
    prompt = f"Which train goes from Lyon to Turin ({scenario})?"
    type_prompt(page, provider, prompt)
    send_by(page, how)

    page.wait_for_function("() => window.__sent.length === 1", timeout=5000)
    assert sent(page) == [prompt]  # no memories yet: sent as typed
    saved = exchange_done(page, person, 1)
    shown = page.evaluate("window.__answers[0]")
    assert [(m.kind, m.text, m.provider) for m in saved if m.kind == "prompt"] == [("prompt", prompt, provider)]
    [answer] = [m for m in saved if m.kind == "response"]
    assert (normalized(answer.text), answer.prompt) == (normalized(shown), prompt)
    assert "\n\n" in answer.text  # its paragraphs kept apart
    assert not [word for word in FURNITURE if word in answer.text], answer.text
    assert page.evaluate("document.documentElement.dataset.memoryLayerSent") == "1"
    assert len(memories_of(person)) == 2
    assert not env.stored("queue")
    layout = dict(p.split("=") for p in query.split("&")).get("layout", "app")
    [bucket] = env.stored("health")["buckets"].values()
    counts = (bucket["prompts_seen"], bucket["answers_captured"], bucket["answers_missing"])
    assert (bucket["site"], bucket["layout"], counts) == (provider, layout, (1, 1, 0))


def test_gemini_draft_and_stop_save_no_draft_and_the_answer_as_stopped(env: Browser, gate: Gate, person: Any) -> None:
    signed_in(env, gate, person, timeout_ms=3000)
    page = chat(env, "gemini", "lang=ko&pause=4000")
    first = "Tell me about the night trains to Vienna"
    type_prompt(page, "gemini", first)
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__sent.length === 1", timeout=5000)
    page.wait_for_selector("button.send-button.stop")
    page.wait_for_function("() => document.querySelector('.markdown-main-panel').innerText.trim().length > 0")
    draft = "and what about the sleeper to Rome"
    type_prompt(page, "gemini", draft)  # a draft typed while the answer streams
    page.click("button.send-button.stop")  # the same place as send: a stop, never a send
    saved = exchange_done(page, person, 1)
    assert [m.text for m in saved if m.kind == "prompt"] == [first]
    [answer] = [m for m in saved if m.kind == "response"]
    assert normalized(answer.text) == normalized(page.evaluate("window.__answers[0]"))
    assert sent(page) == [first]
    assert normalized(page.inner_text("[data-fake-editor]")) == draft  # still there, never sent

    # Sending the draft afterwards is a prompt of its own, with its own answer.
    page.click("[data-fake-editor]")
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    saved = exchange_done(page, person, 2)
    assert [m.text for m in saved if m.kind == "prompt"] == [first, draft]


def test_claude_ignores_enter_while_it_answers_and_nothing_is_saved_for_it(
    env: Browser, gate: Gate, person: Any
) -> None:
    signed_in(env, gate, person, timeout_ms=3000)
    page = chat(env, "claude", "layout=hub&think=1500&pause=2500")
    first = "What is the fastest way from Paris to Milan?"
    type_prompt(page, "claude", first)
    page.keyboard.press("Enter")
    page.wait_for_selector("button[data-testid=chat-input-stop]")
    second = "And from Milan to Rome?"
    type_prompt(page, "claude", second)
    page.keyboard.press("Enter")  # the site ignores it: the answer is still coming
    page.click("button[data-testid=chat-input-stop]", trial=True)  # the stop control is there: no send possible
    saved = exchange_done(page, person, 1)
    assert [m.text for m in saved if m.kind == "prompt"] == [first]
    assert normalized(page.inner_text("[data-fake-editor]")) == second
    page.click("[data-fake-editor]")
    page.keyboard.press("Enter")  # now it goes
    saved = exchange_done(page, person, 2)
    assert [m.text for m in saved if m.kind == "prompt"] == [first, second]


def test_an_enter_remapping_extension_makes_no_phantom_prompt(env: Browser, gate: Gate, person: Any) -> None:
    remembered = "My dog is a golden retriever called Max and he loves swimming in the lake."
    assert client_for(person).post("/save-prompt", {"prompt": remembered}, format="json").status_code == 201
    signed_in(env, gate, person, timeout_ms=3000)  # context on: the extension would hold a send back
    page = chat(env, "claude", "layout=classic&remap=1")
    type_prompt(page, "claude", "What breed is my dog Max?")
    page.keyboard.press("Enter")  # the other extension makes this a new line
    page.keyboard.type("Answer in one word.")
    page.keyboard.press("Control+Enter")  # ... and this the send
    page.wait_for_function("() => window.__sent.length === 1", timeout=6000)
    received = sent(page)[0]
    assert received.startswith(BLOCK_START) and "golden retriever" in received
    assert normalized(received).endswith("What breed is my dog Max? Answer in one word.")
    saved = exchange_done(page, person, 1, prompts=2)
    prompts = [m.text for m in saved if m.kind == "prompt" and m.text != remembered]
    assert [normalized(p) for p in prompts] == ["What breed is my dog Max? Answer in one word."]
    assert page.evaluate("document.documentElement.dataset.memoryLayerSent") == "1"


def test_an_adapter_fixed_on_the_server_reaches_a_running_extension(env: Browser, gate: Gate, person: Any) -> None:
    """The site changes (a layout no bundled adapter knows: prompts are still seen, the answer is not); an
    operator overrides the Claude adapter on the server; the running extension fetches it (what its hourly alarm
    and a sign-in do) and the open page switches to it without a reload: the answer it was waiting for is read,
    and so is the next one. Capture health goes to the server without any text."""
    services = pytest.importorskip("extension_api.services", reason="needs the server side: GET /extension/adapters")
    from extension_api.models import AdapterOverride

    signed_in(env, gate, person, timeout_ms=3000)
    page = chat(env, "claude", "layout=next")
    first = "Is the night train to Vienna running this winter?"
    type_prompt(page, "claude", first)
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.documentElement.dataset.memoryLayerSent === '1'", timeout=10000)
    page.wait_for_function("() => window.__answers.length === 1 && window.__answers.every(Boolean)", timeout=20000)
    wait_for(lambda: [m.text for m in memories_of(person)] == [first], what="the first prompt", timeout=10)

    fixed = json.loads((EXTENSION / "adapters" / "claude.json").read_text())
    fixed["version"] = "2099-01-01"
    fixed["layouts"].insert(
        0,
        {
            "name": "next",
            "detect": {"page_has": "div[contenteditable=true][role=textbox]:not(.ProseMirror):not([data-testid])"},
            "composer": ["div[contenteditable=true][role=textbox]"],
            "send": ["button[data-testid=chat-input-send]"],
            "stop": ["button[data-testid=chat-input-stop]"],
            "user_turn": ["[data-testid=user-message]"],
            "answer": ["article[data-reply]"],
            "answer_body": [".reply-body"],
            "strip": [".reply-tools"],
            "complete": {"answer_is": "[data-state=done]"},
        },
    )
    services.adapter_override_save(override=AdapterOverride(site="claude", data=fixed), user=None)

    options = env.open(env.url("options.html"))
    options.evaluate("chrome.runtime.sendMessage({type: 'refresh-adapters'})")
    wait_for(
        lambda: (env.session("adapters") or {}).get("claude", {}).get("version") == "2099-01-01",
        what="the server's adapter in use",
        timeout=15,
    )
    remote = env.stored("remoteAdapters")
    assert remote["etag"] and remote["errors"] == {}
    # Asked again: nothing changed (304 on the ETag), still the server's adapter.
    options.evaluate("chrome.runtime.sendMessage({type: 'refresh-adapters'})")
    wait_for(lambda: env.stored("remoteAdapters")["checkedAt"] > remote["checkedAt"], what="a second check", timeout=15)
    assert env.stored("remoteAdapters")["etag"] == remote["etag"]
    options.close()

    # The open page switched without a reload: the answer it had missed is read now, then the next exchange.
    saved = wait_for(
        lambda: [m for m in memories_of(person) if m.kind == "response"], what="the rescued answer", timeout=15
    )
    assert [(normalized(m.text), m.prompt) for m in saved] == [
        (normalized(page.evaluate("window.__answers[0]")), first)
    ]
    second = "And the one to Budapest?"
    type_prompt(page, "claude", second)
    page.keyboard.press("Enter")
    saved = exchange_done(page, person, 2)
    assert [m.text for m in saved if m.kind == "prompt"] == [first, second]
    answers = [(normalized(m.text), m.prompt) for m in saved if m.kind == "response"]
    assert answers == [
        (normalized(text), prompt)
        for text, prompt in zip(page.evaluate("window.__answers"), [first, second], strict=True)
    ]
    assert not [m for m in saved if "Copy" in m.text]

    buckets = {(b["layout"], b["adapter_version"]): b for b in env.stored("health")["buckets"].values()}
    bundled_version = json.loads((EXTENSION / "adapters" / "claude.json").read_text())["version"]
    old, new = buckets[("classic", bundled_version)], buckets[("next", "2099-01-01")]
    assert (old["prompts_seen"], old["answers_captured"], old["answers_missing"]) == (1, 1, 0)
    assert (new["prompts_seen"], new["answers_captured"], new["answers_missing"]) == (1, 1, 0)

    # The batch reaches the server (what the 15-minute alarm does), without any text.
    options = env.open(env.url("options.html"))
    result = options.evaluate("chrome.runtime.sendMessage({type: 'flush-health'})")
    options.close()
    assert result["sent"] == 2 and not result.get("dropped"), result
    from extension_api.models import CaptureHealth

    rows = CaptureHealth.objects.filter(site="claude")
    got = {(r.layout, r.prompts_seen, r.answers_captured, r.answers_missing) for r in rows}
    assert got == {("classic", 1, 1, 0), ("next", 1, 1, 0)}


def test_a_virtualised_thread_neither_loses_nor_repeats_an_exchange(env: Browser, gate: Gate, person: Any) -> None:
    signed_in(env, gate, person, timeout_ms=3000)
    page = chat(env, "chatgpt", "layout=thread&virtual=1")
    prompts = ["Which platform does the Milan train leave from?", "And how long is the ride?"]
    for n, prompt in enumerate(prompts, start=1):
        type_prompt(page, "chatgpt", prompt)
        page.keyboard.press("Enter")
        saved = exchange_done(page, person, n)
        # Every turn was unmounted and mounted again after the answer: nothing new, nothing twice.
        page.wait_for_function(f"() => document.querySelectorAll('[data-chatgpt-search-unit-key]').length === {2 * n}")
    assert [m.text for m in saved if m.kind == "prompt"] == prompts
    shown = page.evaluate("window.__answers")
    assert [(normalized(m.text), m.prompt) for m in saved if m.kind == "response"] == [
        (normalized(text), prompt) for text, prompt in zip(shown, prompts, strict=True)
    ]
    assert page.evaluate("document.documentElement.dataset.memoryLayerSent") == "2"


# ------------------------------------------------------------------------------------------------ spaces


def spaces_of(person: Any) -> dict[str, str]:
    """The person's spaces by name (GET /me/spaces), ids as the extension keeps them (strings)."""
    answer = client_for(person).get("/me/spaces").json()
    listed = answer if isinstance(answer, list) else answer.get("spaces") or answer.get("results")
    return {space["name"]: str(space["id"]) for space in listed}


def space_ids(person: Any, texts: list[str]) -> list[str]:
    return [str(m.space_id) for text in texts for m in memories_of(person) if m.kind == "prompt" and m.text == text]


def test_each_site_saves_into_its_own_space_and_reads_only_that_space(env: Browser, gate: Gate, person: Any) -> None:
    api = client_for(person)
    assert api.post("/me/spaces", {"name": "Work"}, format="json").status_code == 201
    spaces = spaces_of(person)
    work, personal = spaces["Work"], spaces["Personal"]
    at_home = "My dog Max is a golden retriever and he loves swimming in the lake."
    at_work = "The Falcon launch review with Dana is on Thursday at 10 in room B."
    assert api.post("/save-prompt", {"prompt": at_home}, format="json").status_code == 201
    assert api.post("/save-prompt", {"prompt": at_work}, format="json", HTTP_X_MEMORY_SPACE=work).status_code == 201
    signed_in(env, gate, person, timeout_ms=3000)

    # The popup's quick switch: ChatGPT into Work; Claude keeps the default space (Personal).
    popup = env.open(env.url("popup.html"))
    popup.wait_for_selector("body[data-spaces=ready]")
    assert popup.input_value("#space-chatgpt") == personal and popup.input_value("#space-claude") == personal
    popup.select_option("#space-chatgpt", work)
    wait_for(lambda: env.stored("siteSpaces") == {"chatgpt": work}, what="ChatGPT's space stored", timeout=10)
    ARTIFACTS.mkdir(exist_ok=True)
    popup.screenshot(path=str(ARTIFACTS / "extension-popup-spaces.png"))
    popup.close()
    # The options page shows the same choice, and can change it too (Gemini into Work, then back to the default).
    options = env.open(env.url("options.html"))
    options.wait_for_selector("body[data-ready=true]")
    assert options.input_value("#space-chatgpt") == work and not options.is_hidden("#spaces-section")
    options.select_option("#space-gemini", work)
    wait_for(lambda: env.stored("siteSpaces") == {"chatgpt": work, "gemini": work}, what="Gemini's space", timeout=10)
    options.select_option("#space-gemini", personal)
    wait_for(lambda: env.stored("siteSpaces") == {"chatgpt": work}, what="Gemini back on the default", timeout=10)
    options.close()

    # ChatGPT: Work's memory comes back, never the dog; what is saved goes into Work.
    page = chat(env, "chatgpt")
    asked_at_work = "When is the Falcon launch review with Dana?"
    type_prompt(page, "chatgpt", asked_at_work)
    chip_space = page.locator("#memory-layer-chip .space")
    chip_space.wait_for()
    assert chip_space.text_content() == "Work ▾"
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__sent.length === 1", timeout=6000)
    received = sent(page)[0]
    assert received.startswith(BLOCK_START) and "Falcon launch review" in received and "golden" not in received

    # Claude: the dog, never Falcon; saved into Personal.
    page = chat(env, "claude")
    asked_at_home = "What breed is my dog Max?"
    type_prompt(page, "claude", asked_at_home)
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__sent.length === 1", timeout=6000)
    received = sent(page)[0]
    assert received.startswith(BLOCK_START) and "golden retriever" in received and "Falcon" not in received
    wait_for(lambda: space_ids(person, [asked_at_work, asked_at_home]) == [work, personal],
             what="each prompt saved in its site's space", timeout=15)  # fmt: skip
    answers = wait_for(lambda: [m for m in memories_of(person) if m.kind == "response"] or None, timeout=20,
                       what="the answers")  # fmt: skip
    assert answers is not None
    assert {(m.prompt, str(m.space_id)) for m in answers} <= {(asked_at_work, work), (asked_at_home, personal)}

    # The chip's switch: Claude into Work from the page itself.
    page = chat(env, "claude")
    type_prompt(page, "claude", "Something else")
    page.locator("#memory-layer-chip .space").click()
    choice = page.locator(f"#memory-layer-chip .menu button[data-space-id='{work}']")
    choice.wait_for()
    page.screenshot(path=str(ARTIFACTS / "extension-chip-space-menu.png"))
    choice.click()
    wait_for(lambda: env.stored("siteSpaces") == {"chatgpt": work, "claude": work}, what="Claude's space", timeout=10)
    page.wait_for_function(
        "() => document.querySelector('#memory-layer-chip').shadowRoot.querySelector('.space').textContent === 'Work ▾'"
    )
    page.screenshot(path=str(ARTIFACTS / "extension-chip-space.png"))

    # Work is deleted elsewhere (its memories moved to Personal): the next save falls back to the default space,
    # and the person is told once.
    assert api.delete(f"/me/spaces/{work}?memories=move&to={personal}").status_code in (200, 204)
    page = chat(env, "chatgpt")
    after = "Draft the agenda for the next planning meeting"
    type_prompt(page, "chatgpt", after)
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__sent.length === 1", timeout=6000)
    wait_for(lambda: space_ids(person, [after]) == [personal], what="the save in the default space", timeout=15)
    page.wait_for_function(
        "() => (document.querySelector('#memory-layer-chip').shadowRoot.querySelector('.chip').dataset.notice || '')"
        ".includes('no longer exists')",
        timeout=10000,
    )
    assert env.stored("siteSpaces") == {}
    assert not env.stored("spaceNotice")  # told once: the chip took it
