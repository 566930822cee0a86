"""The bundled site adapters (extension/adapters/*.json) and the one validation every adapter document goes through.

Adapters are data, never code (store policy forbids remote code): each document must satisfy the bundled
schema.json (JSON Schema draft 2020-12, a closed vocabulary), name a known site, and stay under a size cap. The
same check runs on the bundled files when a process first reads them, on an operator's override when it is saved
in the admin, and again on every override when the served set is built (a deploy may bring a stricter schema).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from extension_api.models import Site

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SCHEMA_FILE = "schema.json"
# At most this many schema violations are named in one error message; the first ones are enough to fix the data.
MAX_ERRORS_SHOWN = 5


@dataclass(frozen=True)
class Bundle:
    """What one adapters directory holds: its validator (None without a usable schema.json), the valid adapters
    by site, a message per refused file, and a digest of every file read (part of the served set's cache key)."""

    directory: Path
    validator: Draft202012Validator | None
    adapters: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    digest: str = ""


def bundle() -> Bundle:
    """The bundled adapters of settings.EXTENSION_ADAPTERS_DIR, read once per process (they change with a deploy)."""
    return bundle_load(str(settings.EXTENSION_ADAPTERS_DIR))


@functools.cache
def bundle_load(directory: str) -> Bundle:
    path = Path(directory)
    if not path.is_dir():
        logger.warning("no adapters folder at %s: GET /extension/adapters serves none", path)
    digest = hashlib.sha256()
    validator, errors = _validator(path / SCHEMA_FILE, digest)
    adapters: dict[str, dict[str, Any]] = {}
    # Only <site>.json for the known sites: other files in the folder (notes, tooling) are not adapters.
    files = [path / f"{site}.json" for site in sorted(Site.values)]
    for file in (f for f in files if f.is_file()):
        raw = file.read_bytes()
        digest.update(file.name.encode() + b"\0" + raw)
        problems = _file_errors(file, raw, validator)
        if problems:
            errors.append(f"{file.name}: {'; '.join(problems)}")
            logger.error("bundled adapter %s refused: %s", file.name, "; ".join(problems))
        else:
            adapters[file.stem] = json.loads(raw)
    return Bundle(path, validator, adapters, errors, digest.hexdigest()[:16])


def _validator(schema_path: Path, digest: Any) -> tuple[Draft202012Validator | None, list[str]]:
    if not schema_path.is_file():
        return None, [f"{SCHEMA_FILE}: missing from {schema_path.parent}"]
    raw = schema_path.read_bytes()
    digest.update(raw)
    try:
        schema = json.loads(raw)
        Draft202012Validator.check_schema(schema)
    except (ValueError, SchemaError) as exc:
        return None, [f"{SCHEMA_FILE}: not a valid JSON Schema ({str(exc).splitlines()[0]})"]
    return Draft202012Validator(schema), []


def _file_errors(file: Path, raw: bytes, validator: Draft202012Validator | None) -> list[str]:
    try:
        document = json.loads(raw)
    except ValueError as exc:
        return [f"not JSON ({exc})"]
    problems = adapter_errors(document, validator=validator)
    if not problems and document["site"] != file.stem:
        problems.append(f"site is {document['site']!r} but the file is named {file.name}")
    return problems


def adapter_errors(document: Any, *, validator: Draft202012Validator | None, site: str | None = None) -> list[str]:
    """Why ``document`` may not be served as an adapter (for ``site``, when given); empty when it may."""
    if validator is None:
        return [f"no usable {SCHEMA_FILE} is bundled, so no adapter can be checked (and none is served)"]
    if not isinstance(document, dict):
        return ["an adapter is a JSON object"]
    size = len(json.dumps(document, separators=(",", ":")).encode())
    if size > settings.EXTENSION_ADAPTER_MAX_BYTES:
        return [f"the adapter is {size} bytes; at most {settings.EXTENSION_ADAPTER_MAX_BYTES} are accepted"]
    try:
        problems = [_describe(error) for error in sorted(validator.iter_errors(document), key=_error_order)]
    except Exception as exc:  # e.g. a $ref the schema cannot resolve offline: refuse, never crash
        return [f"{SCHEMA_FILE} could not be applied: {str(exc).splitlines()[0]}"]
    if len(problems) > MAX_ERRORS_SHOWN:
        problems = [*problems[:MAX_ERRORS_SHOWN], f"and {len(problems) - MAX_ERRORS_SHOWN} more"]
    if problems:
        return problems
    if document.get("schema_version") != SCHEMA_VERSION:
        return [f"schema_version must be {SCHEMA_VERSION}"]
    if document.get("site") not in Site.values:
        return [f"site must be one of {', '.join(Site.values)}"]
    if site is not None and document["site"] != site:
        return [f"site is {document['site']!r} but this override is for {site!r}"]
    return []


def _error_order(error: Any) -> tuple[str, str]:
    return ("/".join(str(part) for part in error.absolute_path), error.message)


def _describe(error: Any) -> str:
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where or '(top level)'}: {error.message}"
