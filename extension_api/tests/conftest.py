"""The extension tests read their own adapter fixtures (a minimal schema and four sites), not the real folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from extension_api.tests.factories import ADAPTER_FIXTURES

FIXTURES = ADAPTER_FIXTURES


@pytest.fixture(autouse=True)
def fixture_adapters(settings: Any) -> Path:
    settings.EXTENSION_ADAPTERS_DIR = str(FIXTURES)
    return FIXTURES


@pytest.fixture
def adapters_copy(settings: Any, tmp_path: Path) -> Path:
    """A writable copy of the fixtures, served instead (for tests that break or add a file)."""
    target = tmp_path / "adapters"
    shutil.copytree(FIXTURES, target)
    settings.EXTENSION_ADAPTERS_DIR = str(target)
    return target


def fixture_adapter(site: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{site}.json").read_text())
