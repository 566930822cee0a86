"""The one import reader: every door (the API's body or file, /app/'s form, ``manage.py import_memories``) hands
its upload here as a file on disk, and it is read as a stream, so memory stays flat whatever the file's size.

A file on disk (or the ``conversations.json`` inside a .zip) is recognised from its first bytes and events by
``open_history``; ``iter_candidates`` then yields its memories one conversation (or one memory) at a time, and may
be run again on the same ``HistoryFile`` (the importer counts in a first pass and stores in a second).

Formats: ChatGPT's ``conversations.json`` (a list of conversations, or one conversation), claude.ai's
``conversations.json`` (Settings → Privacy → Export), and the Memory Layer export (a document with a ``memories``
list, a list of memory objects, NDJSON one memory a line, or a single memory object).
"""

from __future__ import annotations

import io
import itertools
import json
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import ijson
from django.conf import settings

from core.exceptions import InvalidInput, TooLarge
from memories.models import Kind

try:
    _json = ijson.get_backend("yajl2_c")
except ImportError:  # pragma: no cover - the C backend is built for every platform we deploy on
    _json = ijson

EXPORT_FORMAT = "memorylayer.export"
CHATGPT = "chatgpt"
CLAUDE = "claude"
MEMBER_NAME = "conversations.json"
# A zip member packed tighter than this (uncompressed / compressed) is taken for a zip bomb.
MAX_COMPRESSION_RATIO = 200
# Members smaller than this are never refused for their ratio: they cannot do harm.
RATIO_CHECK_FROM_BYTES = 1024 * 1024
# An NDJSON line longer than this is refused rather than read into memory.
MAX_NDJSON_LINE_BYTES = 16 * 1024 * 1024
READ_BUFFER_BYTES = 64 * 1024
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"

# How a recognised file is laid out (HistoryFile.layout).
CHATGPT_LIST = "chatgpt list"  # [conversation, ...]
CHATGPT_OBJECTS = "chatgpt objects"  # {conversation} (or several, one after another)
CLAUDE_LIST = "claude list"
EXPORT_DOCUMENT = "export document"  # {"format": "memorylayer.export", ..., "memories": [...]}
MEMORY_LIST = "memory list"  # [memory, ...]
MEMORY_OBJECT = "memory object"  # {memory}
NDJSON = "ndjson"  # one memory a line
_FORMATS = {CHATGPT_LIST: CHATGPT, CHATGPT_OBJECTS: CHATGPT, CLAUDE_LIST: CLAUDE}

_NOT_RECOGNISED = (
    "Unrecognised import format: send ChatGPT's or Claude's export (the .zip or the conversations.json in it), or a "
    "Memory Layer export (a document with a 'memories' list, or memory objects as a JSON list or NDJSON)"
)


@dataclass(frozen=True)
class Candidate:
    """One memory to import, before validation; ``ref`` says where it came from in the upload."""

    ref: str
    data: Any  # a dict, unless the upload put something else in the list


@dataclass(frozen=True)
class HistoryFile:
    """A recognised upload: where it is, which member of a zip holds it, and how it is laid out."""

    path: Path
    layout: str
    member: str | None = None  # the zip member read, when the upload is a .zip

    @property
    def format(self) -> str:
        """The import report's format name: ``chatgpt``, ``claude`` or ``memorylayer.export``."""
        return _FORMATS.get(self.layout, EXPORT_FORMAT)


def open_history(path: Path | str) -> HistoryFile:
    """Recognise the upload at ``path`` from its first bytes, without reading all of it.

    Raises ``InvalidInput`` for a file that is not one of the formats, ``TooLarge`` for a zip that would unpack past
    ``MEMORY_IMPORT_MAX_UNCOMPRESSED_BYTES`` or more than ``MAX_COMPRESSION_RATIO`` to 1.
    """
    path = Path(path)
    with path.open("rb") as f:
        magic = f.read(4)
    member = _zip_member(path) if magic == b"PK\x03\x04" else None
    with _reading(path, member) as stream:
        layout = _layout(stream)
    return HistoryFile(path=path, layout=layout, member=member)


def iter_candidates(history: HistoryFile) -> Iterator[Candidate]:
    """The upload's memories in file order, read as a stream; ``InvalidInput`` where the file stops being valid."""
    with _reading(history.path, history.member) as stream:
        if history.layout == NDJSON:
            yield from _ndjson_candidates(stream)
        elif history.layout in (CHATGPT_LIST, CHATGPT_OBJECTS):
            prefix = "item" if history.layout == CHATGPT_LIST else ""
            for number, conversation in _items(stream, prefix, "conversation"):
                yield from chatgpt_conversation_candidates(number, _chatgpt_conversation(number, conversation))
        elif history.layout == CLAUDE_LIST:
            for number, conversation in _items(stream, "item", "conversation"):
                yield from claude_conversation_candidates(number, conversation)
        else:
            prefix = {EXPORT_DOCUMENT: "memories.item", MEMORY_LIST: "item", MEMORY_OBJECT: ""}[history.layout]
            for number, item in _items(stream, prefix, "memory"):
                yield Candidate(ref=f"memories[{number}]", data=item)


def count_candidates(history: HistoryFile) -> int:
    """How many memories the upload holds, reading all of it (so every structural problem surfaces here).

    Raises ``InvalidInput`` when there is nothing to import. Each item's fields are checked later, by the importer.
    """
    total = sum(1 for _ in iter_candidates(history))
    if not total:
        raise InvalidInput("Nothing to import: the upload holds no memories")
    return total


# --- Claude's conversations.json --------------------------------------------------------------------------


def claude_conversation_candidates(number: int, conversation: Any) -> list[Candidate]:
    """The memories in one claude.ai conversation, the ``number``-th (from 0) of its file: each human message a
    prompt, each assistant message a response paired with the human message before it."""
    if not isinstance(conversation, dict) or not isinstance(conversation.get("chat_messages"), list):
        raise InvalidInput(
            f"Conversation {number} has no 'chat_messages' list: the file starts like Claude's conversations.json "
            "but is not one all through. Upload the file exactly as Claude exported it."
        )
    found: list[Candidate] = []
    title = str(conversation.get("name") or "untitled")[:60]
    last_prompt = ""
    for position, message in enumerate(conversation["chat_messages"]):
        if not isinstance(message, dict) or message.get("sender") not in ("human", "assistant"):
            continue
        text = _claude_text(message)
        if not text:
            continue
        at = message.get("created_at") or conversation.get("created_at")
        data: dict[str, Any] = {"provider": CLAUDE, "text": text, "created_at": _iso_datetime(at)}
        if message["sender"] == "human":
            last_prompt = text
            data["kind"] = Kind.PROMPT
        else:
            data.update(kind=Kind.RESPONSE, prompt=last_prompt)
        message_id = message.get("uuid") or position
        found.append(Candidate(ref=f"conversation {number} ({title!r}) message {message_id}", data=data))
    return found


def _claude_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        parts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        ]
        if parts:
            return "\n".join(parts).strip()
    text = message.get("text")
    return text.strip() if isinstance(text, str) else ""


def _iso_datetime(value: Any) -> datetime | str | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return "invalid"  # reported as a failed item by validation
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


# --- ChatGPT ----------------------------------------------------------------------------------------------


def _thread(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversation's nodes in reading order: the branch that ends at ``current_node`` (what the person
    last saw, leaving out abandoned edits and regenerations), or every node by time if that is missing."""
    mapping: dict[str, Any] = conversation.get("mapping") or {}
    node_id = conversation.get("current_node")
    if node_id in mapping:
        chain: list[dict[str, Any]] = []
        seen: set[str] = set()
        while node_id in mapping and node_id not in seen:
            seen.add(node_id)
            node = mapping[node_id] if isinstance(mapping[node_id], dict) else {}
            chain.append({"id": node_id, **node})
            node_id = node.get("parent")
        return chain[::-1]
    nodes = [{"id": key, **node} for key, node in mapping.items() if isinstance(node, dict)]
    return sorted(nodes, key=lambda node: _number((node.get("message") or {}).get("create_time")) or 0.0)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content") or {}
    if content.get("content_type", "text") not in ("text", "multimodal_text"):
        return ""  # code sent to tools, tool output, hidden reasoning
    parts = content.get("parts") or []
    return "\n".join(part for part in parts if isinstance(part, str)).strip()


def _message_role(message: dict[str, Any]) -> str:
    if message.get("recipient", "all") != "all":
        return ""  # a call to a tool, not an answer to the person
    if (message.get("metadata") or {}).get("is_visually_hidden_from_conversation"):
        return ""
    return str((message.get("author") or {}).get("role") or "")


def _timestamp(message: dict[str, Any], conversation: dict[str, Any]) -> datetime | str | None:
    seconds = _number(message.get("create_time"))
    if seconds is None:
        seconds = _number(conversation.get("create_time"))
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return "invalid"  # reported as a failed item by validation


def chatgpt_conversation_candidates(number: int, conversation: dict[str, Any]) -> list[Candidate]:
    """The memories in one conversation, the ``number``-th (from 0) of its file."""
    found: list[Candidate] = []
    title = str(conversation.get("title") or "untitled")[:60]
    last_prompt = ""
    for node in _thread(conversation):
        message = node.get("message") if isinstance(node.get("message"), dict) else None
        if message is None:
            continue
        role, text = _message_role(message), _message_text(message)
        if role not in ("user", "assistant") or not text:
            continue
        data = {"provider": CHATGPT, "text": text, "created_at": _timestamp(message, conversation)}
        if role == "user":
            last_prompt = text
            data["kind"] = Kind.PROMPT
        else:
            data.update(kind=Kind.RESPONSE, prompt=last_prompt)
        found.append(Candidate(ref=f"conversation {number} ({title!r}) message {node['id']}", data=data))
    return found


def _chatgpt_conversation(number: int, conversation: Any) -> dict[str, Any]:
    if not isinstance(conversation, dict) or not isinstance(conversation.get("mapping", ()), dict | None):
        raise InvalidInput(
            f"Conversation {number} has no 'mapping' of messages: the file starts like ChatGPT's conversations.json "
            "but is not one all through. Upload the file exactly as ChatGPT exported it."
        )
    return conversation


# --- Streams ----------------------------------------------------------------------------------------------


class CountingReader(io.RawIOBase):
    """Reads ``raw`` and counts the bytes; past ``limit`` (when given) it stops with ``TooLarge``."""

    def __init__(self, raw: IO[bytes], limit: int | None = None):
        super().__init__()
        self.raw = raw
        self.limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        memoryview(buffer).cast("B")[: len(data)] = data
        self.count += len(data)
        if self.limit is not None and self.count > self.limit:
            raise TooLarge(_unpacked_too_big(f"it unpacks past {self.limit} bytes"))
        return len(data)


def _unpacked_too_big(why: str) -> str:
    return (
        f"The zip's {MEMBER_NAME} is too large: {why}; the limit is "
        f"{settings.MEMORY_IMPORT_MAX_UNCOMPRESSED_BYTES} bytes unpacked (MEMORY_IMPORT_MAX_UNCOMPRESSED_BYTES) "
        f"and at most {MAX_COMPRESSION_RATIO} to 1 packed. Split the history, or unzip it and upload the "
        f"{MEMBER_NAME} if it is genuine."
    )


class _Stream(io.BufferedReader):
    """A buffered stream that knows how many bytes it has read (roughly where an error is)."""

    def __init__(self, counter: CountingReader):
        super().__init__(counter, READ_BUFFER_BYTES)
        self.counter = counter

    @property
    def position(self) -> int:
        return self.counter.count


def _zip_member(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [
                info
                for info in archive.infolist()
                if not info.is_dir() and info.filename.rsplit("/", 1)[-1] == MEMBER_NAME
            ]
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput(f"The zip cannot be read ({exc}): upload the .zip exactly as it was downloaded") from exc
    if not members:
        raise InvalidInput(f"The zip holds no {MEMBER_NAME}: upload ChatGPT's export .zip or the {MEMBER_NAME} in it")
    info = min(members, key=lambda info: (info.filename.count("/"), info.filename))
    limit = settings.MEMORY_IMPORT_MAX_UNCOMPRESSED_BYTES
    if info.file_size > limit:
        raise TooLarge(_unpacked_too_big(f"it unpacks to {info.file_size} bytes"))
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size >= RATIO_CHECK_FROM_BYTES and ratio > MAX_COMPRESSION_RATIO:
        raise TooLarge(_unpacked_too_big(f"it is packed {ratio:.0f} to 1"))
    return info.filename


@contextmanager
def _reading(path: Path, member: str | None) -> Iterator[_Stream]:
    """The upload (or its zip member) as a stream past any UTF-8 BOM; a damaged zip becomes ``InvalidInput``."""
    with ExitStack() as stack:
        try:
            if member is None:
                counter = CountingReader(stack.enter_context(path.open("rb", buffering=0)))
            else:
                archive = stack.enter_context(zipfile.ZipFile(path))
                raw = stack.enter_context(archive.open(member))
                counter = CountingReader(raw, settings.MEMORY_IMPORT_MAX_UNCOMPRESSED_BYTES)
            stream = stack.enter_context(_Stream(counter))
            if stream.peek(len(_BOM)).startswith(_BOM):
                stream.read(len(_BOM))
            yield stream
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
            if member is None:
                raise
            raise InvalidInput(
                f"The zip's {member} cannot be unpacked ({exc}): upload the .zip exactly as it was downloaded, "
                f"or the {MEMBER_NAME} in it"
            ) from exc


def _json_error(exc: Exception, stream: _Stream, where: str = "") -> InvalidInput:
    reason = exc.args[0] if exc.args else ""
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    reason = str(reason).strip().splitlines()[0].rstrip(".") if str(reason).strip() else "invalid JSON"
    if "UTF8" in reason:
        return InvalidInput(
            f"The file is not UTF-8 text (invalid bytes near byte {stream.position}{where}): save or export it as UTF-8"
        )
    return InvalidInput(
        f"The file is not valid JSON near byte {stream.position}{where}: {reason}. It may be truncated or "
        "damaged: download the export again and upload it unchanged."
    )


def _items(stream: _Stream, prefix: str, what: str) -> Iterator[tuple[int, Any]]:
    """The values at ``prefix``, numbered from 0, one at a time."""
    number = -1
    try:
        for number, item in enumerate(_json.items(stream, prefix, use_float=True, multiple_values=prefix == "")):
            yield number, item
    except ijson.JSONError as exc:
        where = f", after {what} {number}" if number >= 0 else ""
        raise _json_error(exc, stream, where) from exc
    except UnicodeDecodeError as exc:  # a lone low surrogate escape ("\\udfff"): ijson's C backend yields bad UTF-8
        where = f" after {what} {number}" if number >= 0 else ""
        raise InvalidInput(
            f"The file holds text that is not valid Unicode{where} (a lone surrogate escape such as \\udc00): "
            "export it again, or remove that character."
        ) from exc


def _ndjson_candidates(stream: _Stream) -> Iterator[Candidate]:
    for number in itertools.count(1):
        line = stream.readline(MAX_NDJSON_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_NDJSON_LINE_BYTES:
            raise InvalidInput(
                f"Line {number} is longer than {MAX_NDJSON_LINE_BYTES} bytes: NDJSON holds one memory a line"
            )
        if not line.strip():
            continue
        try:
            item = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"Line {number} is not UTF-8 text: save or export the file as UTF-8") from exc
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"Line {number} is not valid JSON: {exc.msg}") from exc
        yield Candidate(ref=f"line {number}", data=item)


# --- Recognising the layout -------------------------------------------------------------------------------


def _first_byte(stream: _Stream) -> bytes:
    """The first byte that is not whitespace, left unread; ``b""`` at the end of the file."""
    while True:
        head = stream.peek(1)
        if not head:
            return b""
        stripped = head.lstrip(_WHITESPACE)
        if stripped:
            stream.read(len(head) - len(stripped))
            return stripped[:1]
        stream.read(len(head))


def _layout(stream: _Stream) -> str:
    first = _first_byte(stream)
    if first == b"":
        raise InvalidInput("The file is not JSON: it is empty")
    head = stream.peek(64)[:64]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _utf16_json(head):
        raise InvalidInput("The file is not UTF-8 text (it looks like UTF-16): save or export it as UTF-8")
    if first in b'-0123456789"tfn':
        try:
            _, kind, _ = next(_json.parse(stream))
        except ijson.JSONError:
            pass
        else:
            raise InvalidInput(
                f"The file holds a single JSON {_json_kind(kind)}, not conversations or memories: upload the "
                "conversations.json (or the export .zip) or a Memory Layer export."
            )
    if first not in b"[{":
        text = head[:16].decode("ascii", "replace")
        shown = text if text.isprintable() else head[:8].hex(" ")
        raise InvalidInput(
            f"The file is not JSON: it starts with {shown!r}. Upload the conversations.json (or the export .zip) "
            "or a Memory Layer export."
        )
    try:
        return _list_layout(stream) if first == b"[" else _object_layout(stream)
    except ijson.JSONError as exc:
        raise _json_error(exc, stream) from exc
    except UnicodeDecodeError as exc:  # a lone surrogate escape in a key, as in _items
        raise InvalidInput("The file holds text that is not valid Unicode (a lone surrogate escape)") from exc


def _utf16_json(head: bytes) -> bool:
    """A '[' or '{' whose other byte is NUL: JSON written as UTF-16 without a byte order mark."""
    return len(head) >= 2 and {head[0], head[1]} in ({0, ord("[")}, {0, ord("{")})


def _list_layout(stream: _Stream) -> str:
    for prefix, event, value in _json.parse(stream, use_float=True):
        if prefix == "" and event == "end_array":
            return MEMORY_LIST  # empty: nothing to import
        if prefix != "item" or event == "start_map":
            continue
        if event == "map_key" and value == "mapping":
            return CHATGPT_LIST
        if event == "map_key" and value == "chat_messages":
            return CLAUDE_LIST
        if event == "end_map":
            return MEMORY_LIST
        if event != "map_key":
            raise InvalidInput(f"{_NOT_RECOGNISED}. This file is a list of {_json_kind(event)}s.")
    raise InvalidInput("The file is not valid JSON: it ends early")  # pragma: no cover - ijson raises first


def _object_layout(stream: _Stream) -> str:
    events = _json.parse(stream, use_float=True, multiple_values=True)
    keys: set[str] = set()
    for prefix, event, value in events:
        if prefix == "" and event == "map_key":
            keys.add(value)
            if value in ("memories", "mapping"):
                _, kind, _ = next(events)
                if value == "memories" and kind == "start_array":
                    return EXPORT_DOCUMENT
                if value == "mapping" and kind == "start_map":
                    return CHATGPT_OBJECTS
                raise InvalidInput(f"{_NOT_RECOGNISED}. Its '{value}' is a {_json_kind(kind)}.")
        elif prefix == "" and event == "end_map":
            break
    if next(events, None) is not None:
        return NDJSON  # a second value follows the first
    if not keys:
        raise InvalidInput("Nothing to import: the upload holds no memories")
    if "text" in keys:
        return MEMORY_OBJECT
    raise InvalidInput(f"{_NOT_RECOGNISED}. This file is one object with keys {', '.join(sorted(keys)[:8])}.")


def _json_kind(event: str) -> str:
    return {"start_map": "object", "start_array": "list", "map_key": "object"}.get(event, event)
