"""EMBEDDING_BACKEND=onnx: the exported model (``memories.embedding.onnx_export``) run by ONNX Runtime, pooled in numpy.

Imports neither torch nor sentence-transformers: a serving process on this backend starts faster and holds
less memory (docs/architecture.md). It reproduces sentence-transformers' all-MiniLM-L6-v2 pipeline:
tokenize with truncation to the model's max length, run the transformer, mean-pool over the attention mask,
L2-normalise. The int8 variant (EMBEDDING_ONNX_INT8, written beside the fp32 export) runs the same pipeline on
dynamically quantised weights: faster, with slightly different vectors (docs/imports.md).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

BATCH_SIZE = 32


class OnnxEncoder:
    def __init__(
        self,
        *,
        onnx_path: str,
        model_dir: str,
        max_tokens: int,
        threads: int = 0,
        batch_size: int = BATCH_SIZE,
        sort_by_length: bool = True,
    ):
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
        self.tokenizer.no_padding()  # padded per batch below, to the batch's longest text only
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.batch_size = batch_size
        self.sort_by_length = sort_by_length

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        """Unit vectors for ``texts`` (float32, one row per text); extra keyword arguments are ignored.

        Every text is tokenized once; with ``sort_by_length`` the texts are batched by token count, so each batch
        is padded only to its own longest text (dynamic padding) and short texts never pay for long ones.
        """
        if not texts:
            return np.zeros((0, self.session.get_outputs()[0].shape[-1] or 0), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        order = list(range(len(texts)))
        if self.sort_by_length:
            order.sort(key=lambda i: -len(encodings[i].ids))
        out: list[np.ndarray] = [np.empty(0)] * len(texts)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            for i, vector in zip(batch, self._encode_batch([encodings[i] for i in batch]), strict=True):
                out[i] = vector
        return np.stack(out)

    def _encode_batch(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
            types[row, : len(e.ids)] = e.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        (hidden,) = self.session.run(["last_hidden_state"], {k: v for k, v in feed.items() if k in self.input_names})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
