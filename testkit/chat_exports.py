"""Deterministic chat-history exports for tests and benchmarks, written conversation by conversation (never held
in memory whole): ChatGPT's ``conversations.json`` (plain or zipped) and claude.ai's.

``messages`` counts the memories an importer finds: user and assistant messages on each conversation's current
path. Every one of their texts is unique (each names a made-up person or project of its own); the extra nodes
(hidden system messages, tool calls and output, regenerated answers left off the current path) are not counted.
"""

from __future__ import annotations

import json
import random
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

START = datetime(2023, 1, 1, tzinfo=UTC).timestamp()
END = datetime(2025, 12, 1, tzinfo=UTC).timestamp()

# Short words come up as often as the others together, as in English.
_SHORT = [
    "the",
    "a",
    "an",
    "of",
    "to",
    "in",
    "for",
    "on",
    "with",
    "and",
    "or",
    "but",
    "so",
    "that",
    "this",
    "it",
    "is",
    "was",
    "be",
    "can",
    "will",
    "would",
    "should",
    "could",
    "about",
    "from",
    "by",
    "as",
    "at",
    "if",
    "when",
    "then",
    "than",
    "more",
    "most",
    "very",
    "just",
    "also",
    "only",
    "still",
    "even",
    "because",
    "while",
    "after",
    "before",
    "over",
    "under",
    "into",
]
_WORDS = [
    "project",
    "garden",
    "kitchen",
    "recipe",
    "bread",
    "sourdough",
    "oven",
    "travel",
    "train",
    "ticket",
    "hotel",
    "museum",
    "city",
    "river",
    "mountain",
    "hike",
    "budget",
    "invoice",
    "salary",
    "tax",
    "account",
    "bank",
    "loan",
    "rent",
    "apartment",
    "lease",
    "contract",
    "meeting",
    "schedule",
    "calendar",
    "deadline",
    "report",
    "draft",
    "email",
    "letter",
    "resume",
    "interview",
    "manager",
    "team",
    "colleague",
    "client",
    "customer",
    "product",
    "feature",
    "release",
    "bug",
    "server",
    "database",
    "query",
    "index",
    "cache",
    "latency",
    "memory",
    "thread",
    "process",
    "container",
    "cluster",
    "deploy",
    "pipeline",
    "script",
    "test",
    "python",
    "rust",
    "javascript",
    "function",
    "class",
    "module",
    "library",
    "package",
    "version",
    "update",
    "install",
    "error",
    "warning",
    "message",
    "log",
    "piano",
    "guitar",
    "lesson",
    "song",
    "chord",
    "practice",
    "concert",
    "playlist",
    "album",
    "novel",
    "chapter",
    "poem",
    "essay",
    "translation",
    "grammar",
    "french",
    "spanish",
    "german",
    "japanese",
    "vocabulary",
    "phrase",
    "accent",
    "pronunciation",
    "doctor",
    "appointment",
    "allergy",
    "vitamin",
    "sleep",
    "running",
    "marathon",
    "training",
    "knee",
    "stretch",
    "gym",
    "protein",
    "breakfast",
    "lunch",
    "dinner",
    "coffee",
    "tea",
    "chocolate",
    "cheese",
    "pasta",
    "salad",
    "soup",
    "spice",
    "garlic",
    "lemon",
    "tomato",
    "onion",
    "pepper",
    "rice",
    "beans",
    "chicken",
    "salmon",
    "tofu",
    "vegetable",
    "fruit",
    "apple",
    "banana",
    "cat",
    "dog",
    "puppy",
    "kitten",
    "vet",
    "walk",
    "leash",
    "food",
    "toy",
    "birthday",
    "gift",
    "party",
    "wedding",
    "holiday",
    "winter",
    "summer",
    "spring",
    "autumn",
    "weather",
    "rain",
    "snow",
    "sunny",
    "forecast",
    "jacket",
    "boots",
    "umbrella",
    "car",
    "bike",
    "bus",
    "flight",
    "airport",
    "passport",
    "visa",
    "luggage",
    "map",
    "photo",
    "camera",
    "lens",
    "light",
    "color",
    "paint",
    "canvas",
    "sketch",
    "design",
    "logo",
    "font",
    "layout",
    "website",
    "page",
    "button",
    "form",
    "login",
    "password",
    "backup",
    "laptop",
    "phone",
    "screen",
    "battery",
    "charger",
    "keyboard",
    "mouse",
    "monitor",
    "printer",
    "router",
    "network",
    "wifi",
    "signal",
    "plan",
    "idea",
    "question",
    "answer",
    "problem",
    "solution",
    "reason",
    "example",
    "detail",
    "summary",
    "list",
    "step",
    "option",
    "choice",
    "risk",
    "cost",
    "price",
    "quality",
    "speed",
    "size",
    "weight",
    "distance",
    "time",
    "minute",
    "hour",
    "week",
    "month",
    "year",
    "morning",
    "evening",
    "night",
    "weekend",
    "improve",
    "explain",
    "compare",
    "choose",
    "prepare",
    "fix",
    "check",
    "measure",
    "organise",
    "cook",
    "bake",
    "write",
    "read",
    "learn",
    "teach",
    "build",
    "clean",
    "move",
    "buy",
    "sell",
    "pay",
    "save",
    "spend",
    "share",
    "send",
    "call",
    "visit",
    "book",
    "cancel",
    "change",
    "keep",
    "try",
    "start",
    "finish",
    "help",
    "need",
    "simple",
    "quick",
    "careful",
    "cheap",
    "expensive",
    "quiet",
    "busy",
    "warm",
    "cold",
    "fresh",
    "old",
    "new",
    "small",
    "large",
    "long",
    "short",
    "easy",
    "hard",
    "café",
    "naïve",
    "résumé",
    "Zürich",
    "Kraków",
    "Lisboa",
    "東京",
    "München",
]
_SYLLABLES = ["ba", "ce", "di", "fo", "gu", "ka", "le", "mi", "no", "pu", "ra", "se", "ti", "vo", "zu", "ya"]
_NAMED = ["my friend {}", "the {} project", "our client {}", "my colleague {}", "the {} account", "{}'s plan"]


def write_chatgpt_export(
    path: Path, messages: int, *, zipped: bool = False, seed: int = 0, member: str = "conversations.json"
) -> int:
    """A ChatGPT export with ``messages`` memories in conversations of 6 to 20; zipped as ChatGPT does it (with
    ``member`` holding the conversations) when ``zipped``. The file's size in bytes."""
    return _write(Path(path), _chatgpt_conversations(messages, _rng(seed)), zipped=zipped, member=member)


def write_claude_export(path: Path, messages: int, *, seed: int = 0) -> int:
    """A claude.ai ``conversations.json`` with ``messages`` memories. The file's size in bytes."""
    return _write(Path(path), _claude_conversations(messages, _rng(seed)), zipped=False, member="")


def _rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - made-up test data, nothing secret


def _write(path: Path, conversations: Iterator[dict[str, Any]], *, zipped: bool, member: str) -> int:
    if not zipped:
        with path.open("wb") as out:
            _write_list(out, conversations)
    else:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("user.json", json.dumps({"id": "user-generated", "email": "person@example.com"}))
            archive.writestr("chat.html", "<html><body>Your conversations.</body></html>")
            with archive.open(member, "w") as out:
                _write_list(out, conversations)
    return path.stat().st_size


def _write_list(out: IO[bytes], conversations: Iterator[dict[str, Any]]) -> None:
    out.write(b"[")
    for number, conversation in enumerate(conversations):
        text = json.dumps(conversation, ensure_ascii=False, separators=(",", ":"))
        out.write((b"," if number else b"") + text.encode())
    out.write(b"]")


# --- Texts ------------------------------------------------------------------------------------------------


def _name(index: int) -> str:
    """A made-up name for the ``index``-th message, different for every index."""
    digits = []
    while True:
        index, digit = divmod(index, len(_SYLLABLES))
        digits.append(_SYLLABLES[digit])
        if not index and len(digits) >= 3:
            break
    return "".join(reversed(digits)).capitalize()


def _sentences(rng: random.Random, words: int, name: str) -> list[str]:
    picked = [rng.choice(_SHORT if rng.random() < 0.45 else _WORDS) for _ in range(words)]
    picked[rng.randrange(words)] = rng.choice(_NAMED).format(name)
    sentences, start = [], 0
    while start < words:
        end = min(start + rng.randint(6, 18), words)
        sentence = " ".join(picked[start:end])
        sentences.append(sentence[0].upper() + sentence[1:] + rng.choice(".........!?"))
        start = end
    return sentences


def _prompt(rng: random.Random, index: int) -> str:
    text = " ".join(_sentences(rng, round(rng.triangular(5, 40, 8)), _name(index)))
    return text[:-1] + "?" if rng.random() < 0.5 else text


def _answer(rng: random.Random, index: int) -> str:
    sentences = _sentences(rng, round(80 + 220 * rng.random() ** 2.5), _name(index))
    cuts = sorted(rng.sample(range(1, len(sentences)), min(2, len(sentences) - 1)))
    paragraphs = [" ".join(sentences[i:j]) for i, j in zip([0, *cuts], [*cuts, len(sentences)], strict=True)]
    if rng.random() < 0.15:
        paragraphs.insert(1, "```python\nprint(" + repr(rng.choice(_WORDS)) + ")\n```")
    elif rng.random() < 0.2:
        paragraphs.insert(1, "\n".join(f"- {word}" for word in rng.sample(_WORDS, 3)))
    return "\n\n".join(paragraphs)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class _Clock:
    """Increasing times across 2023 to 2025: conversations spread evenly, messages in one a few minutes apart."""

    def __init__(self, messages: int):
        self.step = (END - START) / max(messages, 1)
        self.now = START

    def conversation(self, done: int) -> float:
        self.now = max(START + done * self.step, self.now + 1.0)
        return self.now

    def tick(self, rng: random.Random) -> float:
        self.now += rng.uniform(0.05, 0.5) * min(self.step, 600.0)
        return round(self.now, 6)


def _sizes(rng: random.Random, messages: int) -> Iterator[int]:
    left = messages
    while left > 0:
        size = min(rng.randint(6, 20), left)
        left -= size
        yield size


# --- ChatGPT ----------------------------------------------------------------------------------------------


def _chatgpt_conversations(messages: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    clock, done = _Clock(messages), 0
    for size in _sizes(rng, messages):
        yield _chatgpt_conversation(rng, clock, done, size)
        done += size


def _chatgpt_conversation(rng: random.Random, clock: _Clock, first: int, size: int) -> dict[str, Any]:
    started = clock.conversation(first)
    mapping: dict[str, Any] = {}
    last = "client-created-root"
    mapping[last] = {"id": last, "message": None, "parent": None, "children": []}

    def add(role: str, text: str, *, content_type: str = "text", on_path: bool = True, **extra: Any) -> str:
        nonlocal last
        node_id = _uuid(rng)
        message = {
            "id": node_id,
            "author": {"role": role, **extra.pop("author", {})},
            "create_time": clock.tick(rng),
            "content": {"content_type": content_type, "parts": [text]},
            **extra,
        }
        mapping[node_id] = {"id": node_id, "message": message, "parent": last, "children": []}
        mapping[last]["children"].append(node_id)
        if on_path:
            last = node_id
        return node_id

    add("system", "", metadata={"is_visually_hidden_from_conversation": True})
    if rng.random() < 0.2:
        add("system", "The person prefers short answers in British English.")
    for index in range(first, first + size):
        if (index - first) % 2 == 0:
            add("user", _prompt(rng, index))
            continue
        if rng.random() < 0.1:  # a regenerated answer, left off the current path
            add("assistant", _answer(rng, index) + " (first try)", on_path=False)
        if rng.random() < 0.1:  # a tool call, its output, then the answer
            add("assistant", f"search({rng.choice(_WORDS)!r})", content_type="code", recipient="browser")
            add("tool", "Results: " + " ".join(rng.sample(_WORDS, 8)), author={"name": "browser"})
        add("assistant", _answer(rng, index))
    title = " ".join(rng.sample(_WORDS, 3)).capitalize()
    return {
        "title": title,
        "create_time": started,
        "update_time": clock.now,
        "mapping": mapping,
        "current_node": last,
        "conversation_id": _uuid(rng),
        "id": _uuid(rng),
    }


# --- Claude -----------------------------------------------------------------------------------------------


def _claude_conversations(messages: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    clock, done = _Clock(messages), 0
    account = {"uuid": _uuid(rng)}
    for size in _sizes(rng, messages):
        started = _iso(clock.conversation(done))
        chat = [_claude_message(rng, clock, index, human=(index - done) % 2 == 0) for index in range(done, done + size)]
        title = " ".join(rng.sample(_WORDS, 3)).capitalize()
        yield {
            "uuid": _uuid(rng),
            "name": title,
            "created_at": started,
            "updated_at": _iso(clock.now),
            "account": account,
            "chat_messages": chat,
        }
        done += size


def _claude_message(rng: random.Random, clock: _Clock, index: int, *, human: bool) -> dict[str, Any]:
    text = _prompt(rng, index) if human else _answer(rng, index)
    at = _iso(clock.tick(rng))
    content: list[dict[str, Any]] = [{"type": "text", "text": text, "citations": []}]
    if not human and rng.random() < 0.1:  # a tool run between two parts of the answer
        first, _, rest = text.partition("\n\n")
        content = [
            {"type": "text", "text": first},
            {"type": "tool_use", "name": "web_search", "input": {"query": rng.choice(_WORDS)}},
            {"type": "tool_result", "content": [{"type": "text", "text": "Results: " + rng.choice(_WORDS)}]},
            {"type": "text", "text": rest},
        ]
        text = first + "\n" + rest
    elif rng.random() < 0.05:  # older exports: the text alone
        content = []
    return {
        "uuid": _uuid(rng),
        "text": text,
        "content": content,
        "sender": "human" if human else "assistant",
        "created_at": at,
        "updated_at": at,
        "attachments": [],
        "files": [],
    }


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace("+00:00", "Z")
