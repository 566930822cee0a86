"""The text each input is embedded and keyword-indexed as: token windows, and an answer's prompt or the
conversation's previous message in front of each chunk."""

from __future__ import annotations

from django.conf import settings

from memories.embedding import embeddings
from memories.models import Kind

# Of an answer's token window, at most this many tokens carry the prompt it answered, so that a search
# for the question finds the answer too.
PROMPT_CONTEXT_TOKENS = 64


def prompt_head(prompt: str) -> str:
    """The start of a prompt, at most PROMPT_CONTEXT_TOKENS tokens, as stored beside each answer chunk."""
    windows = embeddings.split_into_windows(prompt, max_tokens=PROMPT_CONTEXT_TOKENS, overlap=0)
    head = windows[0].text if windows else ""
    return head if len(windows) <= 1 else head + " …"


def embedding_input(*, kind: str, chunk_text: str, prompt: str, context: str = "") -> str:
    """What a chunk is embedded and keyword-indexed by: its text after an answer's prompt or the conversation's
    previous message."""
    if kind == Kind.RESPONSE and prompt:
        return f"{prompt_head(prompt)}\n{chunk_text}"
    if context:
        return f"{context}\n{chunk_text}"
    return chunk_text


def chunk_texts(*, kind: str, text: str, prompt: str = "", context: str = "") -> list[str]:
    budget = settings.EMBEDDING_MAX_TOKENS - 2  # [CLS] and [SEP]
    if kind == Kind.RESPONSE and prompt:
        budget -= min(embeddings.count_tokens(prompt), PROMPT_CONTEXT_TOKENS) + 1
    elif context:
        budget -= embeddings.count_tokens(context) + 1
    windows = embeddings.split_into_windows(
        text, max_tokens=budget, overlap=min(settings.EMBEDDING_CHUNK_OVERLAP_TOKENS, budget // 4)
    )
    return [w.text for w in windows if w.text]
