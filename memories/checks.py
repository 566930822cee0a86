from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from memories.embedding import onnx_export
from memories.embedding.embeddings import model_path
from memories.models import EMBEDDING_DIMENSION
from memories.search import search_index


@register()
def embedding_model_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    if settings.EMBEDDING_DIMENSION != EMBEDDING_DIMENSION:
        errors.append(
            Error(
                f"EMBEDDING_DIMENSION is {settings.EMBEDDING_DIMENSION} but the pgvector column holds "
                f"{EMBEDDING_DIMENSION} dimensions.",
                hint="Use a model of the column's size, or migrate the column and run reembed.",
                id="memories.E001",
            )
        )
    path = model_path()
    pooling = Path(path) / "1_Pooling" / "config.json"
    if not pooling.exists():
        errors.append(Error(f"No sentence-transformers model at {path}.", id="memories.E002"))
        return errors
    model_dim = json.loads(pooling.read_text())["word_embedding_dimension"]
    if model_dim != EMBEDDING_DIMENSION:
        errors.append(
            Error(
                f"The embedding model at {path} makes {model_dim}-dimensional vectors; the column holds "
                f"{EMBEDDING_DIMENSION}.",
                id="memories.E003",
            )
        )
    return errors


@register()
def search_backend_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.SEARCH_BACKEND not in ("pgvector", "faiss"):
        return [
            Error(f"SEARCH_BACKEND is {settings.SEARCH_BACKEND!r}.", hint="Use pgvector or faiss.", id="memories.E010")
        ]
    if settings.SEARCH_BACKEND == "faiss":
        try:
            search_index.read_sidecar()
        except search_index.IndexUnavailable as exc:
            hint = "Searches use pgvector until `manage.py rebuild_index` writes a usable index."
            return [Warning(f"FAISS index {exc.state}: {exc.detail}", hint=hint, id="memories.W010")]
    return []


@register()
def embedding_backend_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """With EMBEDDING_BACKEND=onnx a missing or outdated export stops start-up: no silent switch to torch."""
    backend = settings.EMBEDDING_BACKEND
    if backend not in ("torch", "onnx"):
        return [Error(f"EMBEDDING_BACKEND is {backend!r}.", hint="Use torch or onnx.", id="memories.E004")]
    if backend == "torch":
        return []
    onnx_path = Path(settings.EMBEDDING_ONNX_PATH)
    hint = "Run `python -m memories.embedding.onnx_export` (`make setup` does), or set EMBEDDING_BACKEND=torch."
    if not onnx_path.exists():
        return [
            Error(f"EMBEDDING_BACKEND=onnx but there is no ONNX model at {onnx_path}.", hint=hint, id="memories.E005")
        ]
    twin = onnx_export.int8_path(onnx_path)
    if settings.EMBEDDING_ONNX_INT8 and not twin.exists():
        return [Error(f"EMBEDDING_ONNX_INT8=1 but there is no int8 model at {twin}.", hint=hint, id="memories.E005")]
    sidecar = onnx_export.read_sidecar(onnx_path) or {}
    weights = Path(model_path()) / "model.safetensors"
    exported = sidecar.get("model")
    # The size, not the hash: checks run on every manage.py command; the exporter compares the full SHA-256.
    if not isinstance(exported, dict) or not weights.exists() or exported.get("weights_size") != weights.stat().st_size:
        return [
            Error(f"The ONNX model at {onnx_path} was not exported from {model_path()}.", hint=hint, id="memories.E006")
        ]
    return []
