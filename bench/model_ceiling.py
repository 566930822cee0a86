#!/usr/bin/env python
"""The embedding model's ceiling: chunks/s of the ONNX encoder alone, lever by lever, side by side in one run.

    python bench/model_ceiling.py                      # 300 generated ChatGPT messages, 3 rounds
    python bench/model_ceiling.py --messages 2000 --rounds 5 --json var/model-ceiling.json

The inputs are what the worker embeds for an import: a deterministic ChatGPT export (testkit.chat_exports) read by
the import reader, cut into chunks and prefixed as the worker does (an answer carries its prompt's head). No
database, no HTTP: only tokenizer + ONNX Runtime + pooling, i.e. the most an import can reach on this machine.

Variants: fp32 vs int8 (EMBEDDING_ONNX_INT8), batches sorted by token count (dynamic padding) vs file order,
batch sizes, intra-op threads. The machine may be shared: every round runs every variant once, in a rotated
order, so load drifts hit all variants alike; the table gives the median (and min-max) over rounds. The int8
row also gives the mean cosine of its vectors against fp32's for the same inputs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import machine  # noqa: E402


@dataclass(frozen=True)
class Variant:
    model: str  # fp32 | int8
    sort: bool
    batch: int
    threads: int

    @property
    def name(self) -> str:
        order = "sorted" if self.sort else "file order"
        return f"{self.model:4} {order:10} batch {self.batch:3} threads {self.threads}"


def variants(all_cores: int, batches: list[int], one_thread: bool) -> list[Variant]:
    found = [Variant(model, True, batch, all_cores) for model in ("fp32", "int8") for batch in batches]
    found += [Variant(model, False, 32, all_cores) for model in ("fp32", "int8")]
    if one_thread and all_cores > 1:
        found += [Variant(model, True, 32, 1) for model in ("fp32", "int8")]
    return found


def worker_inputs(messages: int) -> list[str]:
    """The dense inputs the worker would embed for a generated export of ``messages`` messages."""
    from memories.embedding.inputs import chunk_texts, embedding_input
    from memories.transfer import history
    from testkit.chat_exports import write_chatgpt_export

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "conversations.json"
        write_chatgpt_export(path, messages, seed=7)
        found = history.open_history(path)
        inputs = []
        for candidate in history.iter_candidates(found):
            data = candidate.data
            prompt = data.get("prompt", "")
            for chunk in chunk_texts(kind=data["kind"], text=data["text"], prompt=prompt):
                inputs.append(embedding_input(kind=data["kind"], chunk_text=chunk, prompt=prompt))
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", default="16,32,64", help="batch sizes tried, sorted by length (32 always)")
    parser.add_argument("--no-one-thread", action="store_true", help="leave out the one-thread variants")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-secret-" + "b" * 40)
    import django

    django.setup()
    import numpy as np
    from django.conf import settings

    from memories.embedding import embeddings, onnx_export
    from memories.embedding.onnx_backend import OnnxEncoder

    inputs = worker_inputs(args.messages)
    tokens = [len(ids) for ids in (e.ids for e in embeddings._tokenizer().encode_batch(inputs))]
    files = {
        "fp32": str(settings.EMBEDDING_ONNX_PATH),
        "int8": str(onnx_export.int8_path(settings.EMBEDDING_ONNX_PATH)),
    }
    all_cores = embeddings.available_cores()
    batches = sorted({32, *(int(b) for b in args.batches.split(","))})
    chosen = variants(all_cores, batches, one_thread=not args.no_one_thread)
    # One session per model file and thread count (each holds its weights and arena); batch size and order are the
    # encoder's plain attributes, set before each run.
    sessions = {
        (v.model, v.threads): OnnxEncoder(
            onnx_path=files[v.model],
            model_dir=embeddings.model_path(),
            max_tokens=settings.EMBEDDING_MAX_TOKENS,
            threads=v.threads,
        )
        for v in chosen
    }

    def encode(v: Variant, texts: list[str]) -> np.ndarray:
        encoder = sessions[(v.model, v.threads)]
        encoder.batch_size, encoder.sort_by_length = v.batch, v.sort
        return encoder.encode(texts)

    print(machine())
    print(f"load average at start: {os.getloadavg()[0]:.2f} (1 min); cores available to this process: {all_cores}")
    print(
        f"{len(inputs)} chunks from {args.messages} generated ChatGPT messages; tokens per chunk: mean "
        f"{statistics.fmean(tokens):.0f}, median {statistics.median(tokens):.0f}, max {max(tokens)}"
    )
    for encoder in sessions.values():
        encoder.encode(inputs[:64])  # warm-up: ONNX Runtime allocates on the first runs
    rates: dict[Variant, list[float]] = {v: [] for v in chosen}
    per_cpu: dict[Variant, list[float]] = {v: [] for v in chosen}
    for round_number in range(args.rounds):
        order = chosen[round_number % len(chosen) :] + chosen[: round_number % len(chosen)]
        for v in order:
            started, cpu = time.perf_counter(), time.process_time()
            encode(v, inputs)
            rates[v].append(len(inputs) / (time.perf_counter() - started))
            per_cpu[v].append(len(inputs) / (time.process_time() - cpu))
        print(f"round {round_number + 1}/{args.rounds} done (load {os.getloadavg()[0]:.2f})", flush=True)
    reference = encode(Variant("fp32", True, 32, all_cores), inputs)
    quantised = encode(Variant("int8", True, 32, all_cores), inputs)
    cosine = float(np.mean(np.sum(reference * quantised, axis=1)))
    # Wall-clock chunks/s is what an import sees, and swings with the other processes' load; chunks per CPU-second
    # (all of this process's threads) is the work each chunk costs, and hardly moves with load. On an idle machine
    # the ceiling is about chunks/CPU-s x threads (less what the threads lose waiting on each other).
    print(f"\n{'variant':42} {'chunks/s (wall)':>16} {'min-max':>15} {'chunks/CPU-s':>13}")
    rows = []
    for v in chosen:
        median, cpu_median = statistics.median(rates[v]), statistics.median(per_cpu[v])
        print(f"{v.name:42} {median:16.1f} {min(rates[v]):7.1f}-{max(rates[v]):<7.1f} {cpu_median:13.1f}")
        rows.append({**v.__dict__, "chunks_per_s": rates[v], "chunks_per_cpu_s": per_cpu[v], "median": median})
    print(f"\nint8 vs fp32: mean cosine of the same chunk's vectors {cosine:.4f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"machine": machine(), "chunks": len(inputs), "rows": rows, "int8_cosine": cosine}, indent=2)
        )


if __name__ == "__main__":
    main()
