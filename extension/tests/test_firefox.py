"""The Firefox package in Debian's firefox-esr, headless: `web-ext run` installs it as a temporary add-on (the
manifest, the event-page background and every file it names load). Skipped where firefox-esr or the extension's
npm tools are missing (`apt-get install firefox-esr`; `make lint-extension` installs the tools). Driving the chat
pages in Firefox is not done here: Debian ships no WebDriver for it (no geckodriver package) and Playwright only
drives its own patched Firefox build."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

EXTENSION = Path(__file__).resolve().parent.parent
WEB_EXT = EXTENSION / "node_modules" / ".bin" / "web-ext"
FIREFOX = shutil.which("firefox-esr")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (FIREFOX and WEB_EXT.exists()), reason="needs firefox-esr and extension/node_modules"),
]


def test_it_installs_in_firefox_esr_headless(tmp_path: Path) -> None:
    unpacked = tmp_path / "firefox"
    subprocess.run(
        ["python3", str(EXTENSION / "tools" / "build_zip.py"), str(tmp_path / "ff.zip"), "--firefox", str(unpacked)],
        check=True,
        timeout=60,
    )
    command = [str(WEB_EXT), "run", "--source-dir", str(unpacked), f"--firefox={FIREFOX}", "--arg=--headless"]
    command += ["--no-reload", "--no-input", "--verbose"]
    process = subprocess.Popen(
        command, cwd=EXTENSION, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    seen: list[str] = []
    deadline = time.monotonic() + 120  # a bound on a stuck run, not a speed assertion
    try:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if "as a temporary add-on" in line or time.monotonic() > deadline:
                break
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert any("Installed" in line and "as a temporary add-on" in line for line in seen), "".join(seen[-30:])
