"""EMBEDDING_BACKEND=onnx: the exported model (``memories.embedding.onnx_export``) run by ONNX Runtime, pooled in numpy.

Imports neither torch nor sentence-transformers: a serving process on this backend starts faster and holds
less memory (docs/architecture.md). It reproduces sentence-transformers' all-MiniLM-L6-v2 pipeline:
tokenize with truncation to the model's max length, run the transformer, mean-pool over the attention mask,
L2-normalise.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

BATCH_SIZE = 32


class OnnxEncoder:
    def __init__(self, *, onnx_path: str, model_dir: str, max_tokens: int, threads: int = 0):
        import onnxruntime
        from tokenizers import Tokenizer

        if not os.path.exists(onnx_path):
            raise FileNotFoundError(
                f"EMBEDDING_BACKEND=onnx but {onnx_path} does not exist: run `python -m memories.embedding.onnx_export`"
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # 0: ONNX Runtime's default, one per core
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        # max_length counts the [CLS] and [SEP] that the post-processor adds, like sentence-transformers'.
        self.tokenizer.enable_truncation(max_length=max_tokens)
        pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token="[PAD]")
        self.input_names = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        """Unit vectors for ``texts`` (float32, one row per text); extra keyword arguments are ignored."""
        if not texts:
            return np.zeros((0, self.session.get_outputs()[0].shape[-1] or 0), dtype=np.float32)
        # Batch texts of similar length together, as sentence-transformers does, so padding stays short.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out: list[np.ndarray] = [np.empty(0)] * len(texts)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            for i, vector in zip(batch, self._encode_batch([texts[i] for i in batch]), strict=True):
                out[i] = vector
        return np.stack(out)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (hidden,) = self.session.run(["last_hidden_state"], {k: v for k, v in feed.items() if k in self.input_names})
        mask = feed["attention_mask"][:, :, None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
