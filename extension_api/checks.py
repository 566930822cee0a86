from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from extension_api.adapters import bundle


@register()
def bundled_adapters_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every bundled adapter file must pass its schema: a refused one is never served (the extension keeps its own)."""
    found = bundle()
    if not found.directory.is_dir():
        return [
            Warning(
                f"No adapters directory at {found.directory}: GET /extension/adapters serves none.",
                hint="Set EXTENSION_ADAPTERS_DIR to the extension's adapters/ folder.",
                id="extension_api.W001",
            )
        ]
    return [Error(f"Bundled adapter refused: {message}", id="extension_api.E001") for message in found.errors]
