from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from extension_api.adapters import bundle


@register()
def bundled_adapters_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every bundled adapter file must pass its schema: a refused one is never served (the extension keeps its own).

    A missing folder is no error here (it is logged when first read): nothing breaks without it, and `check --deploy
    --fail-level WARNING` must pass on a checkout that has no adapters yet.
    """
    found = bundle()
    if not found.directory.is_dir():
        return []
    return [Error(f"Bundled adapter refused: {message}", id="extension_api.E001") for message in found.errors]
