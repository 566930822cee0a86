"""EMBEDDING_BACKEND=onnx: the local export, its vectors against torch's, start-up checks, no torch when serving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from memories.checks import embedding_backend_check
from memories.embedding import embeddings, onnx_export
from memories.embedding.onnx_backend import OnnxEncoder

TEXTS = [
    "hi",
    "What did I say about my dog Max?",
    "I adopted a golden retriever puppy named Max last spring, and he chews every shoe in the house.",
    "Ünïcödé, émojis 🙂 and 日本語のテキスト in one memory.",
    "   ",
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)",
    # longer than EMBEDDING_MAX_TOKENS: both backends must truncate at the same token
    "The quarterly budget review covered travel, hardware and the new office lease. " * 40,
    " ".join(f"word{i}" for i in range(700)),
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    result = onnx_export.export(model_dir=Path(embeddings.model_path()), onnx_path=path)
    assert result.exported
    return path


@pytest.fixture
def onnx_backend(settings, exported: Path) -> Iterator[Path]:
    settings.EMBEDDING_BACKEND = "onnx"
    settings.EMBEDDING_ONNX_PATH = str(exported)
    embeddings._models.pop("onnx", None)
    yield exported
    embeddings._models.pop("onnx", None)


def test_it_matches_the_torch_vectors_for_short_long_and_odd_texts(settings, onnx_backend):
    onnx_vectors = embeddings.embed(TEXTS)
    settings.EMBEDDING_BACKEND = "torch"
    torch_vectors = embeddings.embed(TEXTS)
    assert onnx_vectors.shape == torch_vectors.shape == (len(TEXTS), 384)
    assert onnx_vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-5)
    cosines = (onnx_vectors * torch_vectors).sum(axis=1)
    assert cosines.min() >= 0.999, dict(zip(TEXTS, cosines.round(6), strict=True))


def test_it_gives_a_text_the_same_vector_alone_and_padded_in_a_batch(onnx_backend):
    alone = embeddings.embed(["What did I say about my dog Max?"])[0]
    in_batch = embeddings.embed(TEXTS)[1]
    assert float(alone @ in_batch) >= 0.99999


def test_batches_sorted_by_length_give_the_same_vectors_as_batches_in_order(onnx_backend, settings):
    def encoder(sort: bool) -> OnnxEncoder:
        return OnnxEncoder(
            onnx_path=str(onnx_backend),
            model_dir=embeddings.model_path(),
            max_tokens=settings.EMBEDDING_MAX_TOKENS,
            batch_size=3,
            sort_by_length=sort,
        )

    np.testing.assert_allclose(encoder(True).encode(TEXTS), encoder(False).encode(TEXTS), atol=1e-5)


def test_the_int8_twin_is_exported_beside_the_model_and_chosen_by_the_setting(onnx_backend, settings):
    fp32 = embeddings.embed(TEXTS)
    assert onnx_export.int8_path(onnx_backend).exists()
    settings.EMBEDDING_ONNX_INT8 = True
    embeddings._models.pop("onnx", None)
    assert embeddings.onnx_model_file() == str(onnx_export.int8_path(onnx_backend))

    int8 = embeddings.embed(TEXTS)

    cosines = (fp32 * int8).sum(axis=1)
    assert cosines.min() >= 0.8 and not np.allclose(fp32, int8, atol=1e-4)  # the same model, other vectors


def test_the_check_fails_when_the_int8_twin_is_chosen_but_missing(settings, tmp_path, exported):
    copy = tmp_path / "model.onnx"
    copy.write_bytes(b"x")
    settings.EMBEDDING_BACKEND = "onnx"
    settings.EMBEDDING_ONNX_PATH = str(copy)
    settings.EMBEDDING_ONNX_INT8 = True
    [error] = embedding_backend_check()
    assert error.id == "memories.E005" and "model.int8.onnx" in error.msg


def test_it_loads_the_model_lazily_once_per_backend(onnx_backend):
    assert not embeddings.is_loaded()
    first = embeddings.get_model()
    assert embeddings.is_loaded()
    assert embeddings.get_model() is first


@pytest.mark.django_db
def test_it_saves_and_finds_memories_with_the_onnx_backend(onnx_backend, alice, alice_client):
    for prompt in ["I adopted a golden retriever named Max.", "Our trip to Kyoto is in April."]:
        assert (
            alice_client.post("/save-prompt", {"prompt": prompt, "provider": "claude"}, format="json").status_code
            == 201
        )
    response = alice_client.get(f"/context/{alice.pk}", {"query": "what is my dog called?", "top_k": 1})
    assert response.status_code == 200
    assert "Max" in json.dumps(response.json())


def test_it_skips_an_export_that_matches_the_model(exported):
    before = exported.stat().st_mtime_ns
    result = onnx_export.export(model_dir=Path(embeddings.model_path()), onnx_path=exported)
    assert not result.exported
    assert exported.stat().st_mtime_ns == before


def test_it_does_not_count_an_export_of_other_weights_as_current(exported, tmp_path):
    copy = tmp_path / "model.onnx"
    copy.write_bytes(b"not really a model")
    sidecar = json.loads(onnx_export.sidecar_path(exported).read_text())
    sidecar["model"]["weights_sha256"] = "0" * 64
    onnx_export.sidecar_path(copy).write_text(json.dumps(sidecar))
    assert onnx_export.is_current(exported, Path(embeddings.model_path()))
    assert not onnx_export.is_current(copy, Path(embeddings.model_path()))


def test_the_check_passes_with_an_exported_model(onnx_backend):
    assert embedding_backend_check() == []


def test_the_check_passes_for_torch_without_any_onnx_file(settings, tmp_path):
    settings.EMBEDDING_BACKEND = "torch"
    settings.EMBEDDING_ONNX_PATH = str(tmp_path / "missing.onnx")
    assert embedding_backend_check() == []


def test_the_check_refuses_an_unknown_backend(settings):
    settings.EMBEDDING_BACKEND = "tensorflow"
    assert [e.id for e in embedding_backend_check()] == ["memories.E004"]


def test_the_check_fails_clearly_when_the_onnx_file_is_missing(settings, tmp_path):
    settings.EMBEDDING_BACKEND = "onnx"
    settings.EMBEDDING_ONNX_PATH = str(tmp_path / "missing.onnx")
    [error] = embedding_backend_check()
    assert error.id == "memories.E005"
    assert "missing.onnx" in error.msg
    assert "memories.embedding.onnx_export" in (error.hint or "")


def test_the_check_fails_when_the_file_came_from_other_weights(settings, tmp_path, exported):
    copy = tmp_path / "model.onnx"
    copy.write_bytes(b"x")
    sidecar = json.loads(onnx_export.sidecar_path(exported).read_text())
    sidecar["model"]["weights_size"] = 1
    onnx_export.sidecar_path(copy).write_text(json.dumps(sidecar))
    settings.EMBEDDING_BACKEND = "onnx"
    settings.EMBEDDING_ONNX_PATH = str(copy)
    assert [e.id for e in embedding_backend_check()] == ["memories.E006"]


def test_loading_a_missing_file_raises_instead_of_switching_to_torch(settings, tmp_path):
    settings.EMBEDDING_BACKEND = "onnx"
    settings.EMBEDDING_ONNX_PATH = str(tmp_path / "missing.onnx")
    embeddings._models.pop("onnx", None)
    with pytest.raises(FileNotFoundError, match="onnx_export"):
        embeddings.embed(["hello"])
    assert not embeddings.is_loaded()


def test_a_process_serving_with_onnx_never_imports_torch(exported):
    script = (
        "import sys, django; django.setup();"
        "from memories.embedding import embeddings;"
        "v = embeddings.embed(['what did I say about Max?']);"
        "print(v.shape, 'torch' in sys.modules, 'sentence_transformers' in sys.modules, 'transformers' in sys.modules)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DJANGO_SECRET_KEY": "test-" + "s" * 50,
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/unused",  # never connected: nothing here queries
        "EMBEDDING_BACKEND": "onnx",
        "EMBEDDING_ONNX_PATH": str(exported),
    }
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "(1, 384) False False False"
