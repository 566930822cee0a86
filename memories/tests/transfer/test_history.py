from __future__ import annotations

import io
import json
import re
import struct
import tracemalloc
import zipfile
from datetime import UTC, datetime

import pytest

from core.exceptions import InvalidInput, TooLarge
from memories.models import Kind
from memories.transfer.history import (
    Candidate,
    CountingReader,
    count_candidates,
    iter_candidates,
    open_history,
)
from testkit.chat_exports import write_chatgpt_export, write_claude_export

MEMORY = {"kind": "prompt", "provider": "claude", "text": "I row on Sundays."}


def streamed(path):
    history = open_history(path)
    return history, list(iter_candidates(history))


def write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def refused(path, error=InvalidInput):
    """The message of the error raised by opening the file or by reading it to the end."""
    with pytest.raises(error) as caught:
        count_candidates(open_history(path))
    return caught.value.message


# --- ChatGPT ----------------------------------------------------------------------------------------------


def test_it_streams_every_message_on_the_current_paths_of_a_chatgpt_export_in_order(tmp_path):
    path = tmp_path / "conversations.json"
    write_chatgpt_export(path, 400, seed=3)

    history, found = streamed(path)

    assert (history.format, history.member) == ("chatgpt", None)
    conversations = json.loads(path.read_bytes())
    assert found[0].ref.startswith(f"conversation 0 ({conversations[0]['title'][:60]!r}) message ")
    assert [c.data["kind"] for c in found[:2]] == ["prompt", "response"]
    assert found[1].data["prompt"] == found[0].data["text"]
    assert len(found) == count_candidates(history) == 400
    assert list(iter_candidates(history)) == found  # a second pass reads it again


def test_it_leaves_out_branches_off_the_current_path_and_system_and_tool_messages(tmp_path):
    path = tmp_path / "conversations.json"
    write_chatgpt_export(path, 600, seed=1)
    left_out: dict[str, set[str]] = {"system": set(), "tool": set(), "tool call": set(), "off path": set()}
    for conversation in json.loads(path.read_bytes()):
        mapping, on_path, node = conversation["mapping"], set(), conversation["current_node"]
        while node:
            on_path.add(node)
            node = mapping[node]["parent"]
        for node_id, node in mapping.items():
            message = node["message"]
            if message is None or not message["content"]["parts"][0]:
                continue
            text = message["content"]["parts"][0]
            if node_id not in on_path:
                left_out["off path"].add(text)
            elif message["author"]["role"] in ("system", "tool"):
                left_out[message["author"]["role"]].add(text)
            elif message.get("recipient", "all") != "all" or message["content"]["content_type"] == "code":
                left_out["tool call"].add(text)

    texts = {candidate.data["text"] for candidate in streamed(path)[1]}

    assert all(left_out.values()), "the generated export has each kind of message to leave out"
    assert not texts & set().union(*left_out.values())
    assert len(texts) == 600


def test_it_reads_a_zipped_export_from_its_conversations_json_at_any_depth(tmp_path):
    plain, zipped = tmp_path / "conversations.json", tmp_path / "export.zip"
    write_chatgpt_export(plain, 120, seed=5)
    size = write_chatgpt_export(zipped, 120, seed=5, zipped=True, member="Export 2025/data/conversations.json")

    history, found = streamed(zipped)

    assert size == zipped.stat().st_size < plain.stat().st_size
    assert (history.format, history.member) == ("chatgpt", "Export 2025/data/conversations.json")
    assert found == streamed(plain)[1]


def test_it_recognises_one_chatgpt_conversation_alone(tmp_path):
    path = tmp_path / "export.json"
    write_chatgpt_export(path, 10, seed=2)
    (conversation,) = json.loads(path.read_bytes())
    single = write(tmp_path, "one.json", json.dumps(conversation, indent=2))

    history, found = streamed(single)

    assert history.format == "chatgpt"
    assert found == streamed(path)[1]


def test_it_refuses_a_chatgpt_file_with_a_conversation_that_is_not_one_in_the_first_pass(tmp_path):
    path = tmp_path / "conversations.json"
    write_chatgpt_export(path, 30, seed=2)
    conversations = json.loads(path.read_bytes())
    path.write_text(json.dumps([*conversations[:2], {"title": "no mapping"}, *conversations[2:]]))

    assert "Conversation 2 has no 'mapping'" in refused(path)


# --- Claude -----------------------------------------------------------------------------------------------


def claude_message(uuid, sender, text, at, **extra):
    content = [{"type": "text", "text": text}]
    return {"uuid": uuid, "sender": sender, "text": text, "content": content, "created_at": at, **extra}


def test_it_pairs_claude_answers_with_the_message_before_and_keeps_their_times(tmp_path):
    answer = claude_message("m2", "assistant", "", "2024-05-01T10:00:09+02:00")
    answer["content"] = [
        {"type": "text", "text": "Lyon has a rowing club."},
        {"type": "tool_use", "name": "web_search", "input": {"query": "rowing lyon"}},
        {"type": "text", "text": "It rows on Sundays."},
    ]
    messages = [
        claude_message("m1", "human", "Where can I row in Lyon?", "2024-05-01T08:00:00.250Z"),
        answer,
        {"uuid": "m3", "sender": "human", "text": "Thanks!", "content": [], "created_at": None},
        claude_message("m4", "assistant", "", "2024-05-01T08:01:00Z"),  # nothing said: left out
        claude_message("m4b", "system", "A note from the app", "2024-05-01T08:01:00Z"),  # not the person's
        "not a message",
        claude_message("m5", "assistant", "You're welcome.", "yesterday"),
    ]
    conversation = {"uuid": "c1", "name": "Rowing", "created_at": "2024-05-01T07:59:00Z", "chat_messages": messages}
    path = write(tmp_path, "conversations.json", json.dumps([{"name": "empty", "chat_messages": []}, conversation]))

    history, found = streamed(path)

    assert history.format == "claude"
    assert [candidate.ref for candidate in found] == [
        f"conversation 1 ('Rowing') message {uuid}" for uuid in ("m1", "m2", "m3", "m5")
    ]
    prompt, response, thanks, welcome = (candidate.data for candidate in found)
    assert prompt == {
        "kind": Kind.PROMPT,
        "provider": "claude",
        "text": "Where can I row in Lyon?",
        "created_at": datetime(2024, 5, 1, 8, 0, 0, 250000, tzinfo=UTC),
    }
    assert response["kind"] == Kind.RESPONSE
    assert response["text"] == "Lyon has a rowing club.\nIt rows on Sundays."
    assert response["prompt"] == "Where can I row in Lyon?"
    assert response["created_at"] == datetime(2024, 5, 1, 8, 0, 9, tzinfo=UTC)
    assert thanks["text"] == "Thanks!"
    assert thanks["created_at"] == datetime(2024, 5, 1, 7, 59, tzinfo=UTC)  # the conversation's time
    assert (welcome["prompt"], welcome["created_at"]) == ("Thanks!", "invalid")


def test_it_generates_a_claude_export_holding_as_many_memories_as_asked(tmp_path):
    path = tmp_path / "conversations.json"
    write_claude_export(path, 500, seed=4)

    history, found = streamed(path)

    assert count_candidates(history) == len(found) == 500
    assert len({candidate.data["text"] for candidate in found}) == 500
    times = [candidate.data["created_at"] for candidate in found]
    assert times == sorted(times)
    assert datetime(2023, 1, 1, tzinfo=UTC) <= times[0] and times[-1] < datetime(2026, 1, 1, tzinfo=UTC)
    last_prompt = ""
    for candidate in found:
        if candidate.data["kind"] == Kind.PROMPT:
            last_prompt = candidate.data["text"]
        else:
            assert candidate.data["prompt"] == last_prompt


def test_it_refuses_a_claude_file_with_a_conversation_that_is_not_one(tmp_path):
    path = write(tmp_path, "c.json", json.dumps([{"chat_messages": []}, {"name": "x", "chat_messages": "hi"}]))

    assert "Conversation 1 has no 'chat_messages' list" in refused(path)


# --- Our own export ---------------------------------------------------------------------------------------


def test_it_streams_our_export_document_from_its_memories_list(tmp_path):
    document = {"format": "memorylayer.export", "version": 1, "memories": [MEMORY, {**MEMORY, "text": "b"}]}
    path = write(tmp_path, "export.json", "\ufeff\n  " + json.dumps(document, indent=2))

    history, found = streamed(path)

    assert history.format == "memorylayer.export"
    assert [(c.ref, c.data["text"]) for c in found] == [("memories[0]", MEMORY["text"]), ("memories[1]", "b")]


def test_it_keeps_what_is_not_an_object_in_a_list_of_memories_for_validation_to_fail(tmp_path):
    path = write(tmp_path, "list.json", json.dumps([MEMORY, 3, {**MEMORY, "pinned": True, "weight": 0.5}]))

    history, found = streamed(path)

    assert history.format == "memorylayer.export"
    assert [candidate.data for candidate in found] == [MEMORY, 3, {**MEMORY, "pinned": True, "weight": 0.5}]
    assert isinstance(found[2].data["weight"], float)


def test_it_reads_ndjson_line_by_line(tmp_path):
    path = write(tmp_path, "export.ndjson", json.dumps(MEMORY) + "\n\n" + json.dumps({**MEMORY, "text": "b"}) + "\n")

    history, found = streamed(path)

    assert history.format == "memorylayer.export"
    assert [(c.ref, c.data["text"]) for c in found] == [("line 1", MEMORY["text"]), ("line 3", "b")]


def test_it_refuses_an_overlong_ndjson_line(tmp_path, monkeypatch):
    monkeypatch.setattr("memories.transfer.history.MAX_NDJSON_LINE_BYTES", 100)
    path = write(tmp_path, "export.ndjson", json.dumps(MEMORY) + "\n" + json.dumps({**MEMORY, "text": "x" * 100}))

    assert refused(path) == "Line 2 is longer than 100 bytes: NDJSON holds one memory a line"


def test_it_reads_a_single_memory_object_as_one_memory(tmp_path):
    found = streamed(write(tmp_path, "one.json", json.dumps(MEMORY, indent=2)))[1]

    assert [candidate.data for candidate in found] == [MEMORY]


def test_it_names_a_bad_ndjson_line(tmp_path):
    path = write(tmp_path, "export.ndjson", json.dumps(MEMORY) + "\n" + '{"kind": "prompt", \n')

    assert refused(path).startswith("Line 2 is not valid JSON")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("[]", "Nothing to import"),
        ("{}", "Nothing to import"),
        ('{"name": "x"}', "Unrecognised import format"),
        ('{"memories": 3}', "Its 'memories' is a number"),
    ],
)
def test_it_refuses_empty_and_unrecognised_objects(tmp_path, content, fragment):
    assert fragment in refused(write(tmp_path, "x.json", content))


# --- Files that are not an export -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "The file is not JSON: it is empty"),
        (" \n\t ", "The file is not JSON: it is empty"),
        ("Dear diary,", "The file is not JSON: it starts with 'Dear diary,'"),
        ("nothing here", "The file is not JSON: it starts with 'nothing here'"),
        (bytes(range(256)), "The file is not JSON: it starts with '00 01 02"),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "The file is not JSON"),
        ("42", "a single JSON number"),
        ('"hello"', "a single JSON string"),
        ("[1, 2, 3]", "This file is a list of numbers"),
        ('[{"a": 1}, ]', "not valid JSON near byte"),
        ('[{"kind": "prompt"} {"kind": "prompt"}]', "not valid JSON near byte"),
        ('[{"kind": "prompt"}]\n[]', "not valid JSON near byte"),
        ('[{"a": 1}]'.encode("utf-16"), "not UTF-8 text (it looks like UTF-16)"),
        ('[{"a": 1}]'.encode("utf-16-le"), "not UTF-8 text (it looks like UTF-16)"),
        ('[{"kind": "prompt", "text": "café"}]'.encode("latin-1"), "not UTF-8 text (invalid bytes"),
        (json.dumps(MEMORY).encode() + b'\n{"text": "caf\xe9"}\n', "Line 2 is not UTF-8 text"),
    ],
)
def test_it_refuses_what_is_not_an_export_with_a_useful_message(tmp_path, content, fragment):
    assert fragment in refused(write(tmp_path, "upload.json", content))


def test_it_fails_a_truncated_export_where_it_stops(tmp_path):
    path = tmp_path / "conversations.json"
    size = write_chatgpt_export(path, 300, seed=7)
    path.write_bytes(path.read_bytes()[: size // 2])
    history = open_history(path)
    found: list[Candidate] = []

    with pytest.raises(InvalidInput) as caught:
        found.extend(iter_candidates(history))

    assert 100 < len(found) < 200
    assert f"near byte {size // 2}" in caught.value.message
    assert "after conversation" in caught.value.message
    assert "truncated" in caught.value.message


# --- Zips -------------------------------------------------------------------------------------------------


def test_it_refuses_a_zip_without_conversations_json(tmp_path):
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("user.json", "{}")
        archive.writestr("conversations.json.bak", "[]")
        archive.writestr("conversations.json/", "")

    assert refused(path) == (
        "The zip holds no conversations.json: upload ChatGPT's export .zip or the conversations.json in it"
    )


def test_it_refuses_a_damaged_zip(tmp_path):
    path = tmp_path / "export.zip"
    write_chatgpt_export(path, 200, zipped=True)
    damaged = write(tmp_path, "damaged.zip", path.read_bytes()[:-2000])

    assert "The zip cannot be read" in refused(damaged)


def test_it_refuses_a_zip_whose_data_is_damaged_while_reading(tmp_path):
    path = tmp_path / "export.zip"
    write_chatgpt_export(path, 400, zipped=True)
    with zipfile.ZipFile(path) as archive:
        offset = archive.getinfo("conversations.json").header_offset
    raw = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack("<HH", raw[offset + 26 : offset + 30])
    data = offset + 30 + name_length + extra_length
    raw[data : data + 64] = b"\xff" * 64  # deflate blocks of a type that does not exist
    path.write_bytes(raw)

    message = refused(path)

    assert "The zip's conversations.json cannot be unpacked" in message
    assert "upload the .zip exactly as it was downloaded" in message


def test_it_refuses_a_zip_bomb_before_reading(tmp_path, settings):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("conversations.json", "w") as out:
        for _ in range(50):
            out.write(bytes(1024 * 1024))
    assert path.stat().st_size < 100_000

    assert re.search(r"it is packed \d{3,4} to 1", refused(path, TooLarge))

    settings.MEMORY_IMPORT_MAX_UNCOMPRESSED_BYTES = 10 * 1024 * 1024
    message = refused(path, TooLarge)
    assert "it unpacks to 52428800 bytes" in message
    assert "MEMORY_IMPORT_MAX_UNCOMPRESSED_BYTES" in message


def test_it_stops_reading_at_the_limit_whatever_the_zip_declares(tmp_path, settings):
    path = tmp_path / "export.zip"
    write_chatgpt_export(path, 200, zipped=True)
    history = open_history(path)  # passes the declared-size checks
    settings.MEMORY_IMPORT_MAX_UNCOMPRESSED_BYTES = 100_000  # as if the member had declared less than it holds

    with pytest.raises(TooLarge, match="it unpacks past 100000 bytes"):
        count_candidates(history)


def test_it_counts_and_stops_the_counting_reader_past_its_limit():
    counter = CountingReader(io.BytesIO(b"x" * 1000), limit=600)
    stream = io.BufferedReader(counter, 256)

    assert stream.read(500) == b"x" * 500
    assert counter.count == 512
    with pytest.raises(TooLarge):
        stream.read()

    unlimited = CountingReader(io.BytesIO(b"x" * 1000))
    assert len(io.BufferedReader(unlimited).read()) == unlimited.count == 1000


# --- Generated exports and memory -------------------------------------------------------------------------


def test_it_generates_deterministic_exports_where_every_message_is_unique(tmp_path):
    one, two, other = tmp_path / "1.json", tmp_path / "2.json", tmp_path / "3.json"
    write_chatgpt_export(one, 250, seed=9)
    write_chatgpt_export(two, 250, seed=9)
    write_chatgpt_export(other, 250, seed=10)

    assert one.read_bytes() == two.read_bytes() != other.read_bytes()
    found = streamed(one)[1]
    texts = [candidate.data["text"] for candidate in found]
    assert len(set(texts)) == len(texts) == 250
    times = [candidate.data["created_at"] for candidate in found]
    assert times == sorted(times) and len(set(times)) == 250
    assert times[0].year == 2023 and times[-1].year == 2025
    words = [len(text.split()) for text in texts]
    assert min(words) >= 5 and max(words) <= 310


@pytest.mark.slow
def test_it_keeps_memory_flat_while_a_large_export_streams(tmp_path):
    path = tmp_path / "conversations.json"
    size = write_chatgpt_export(path, 30_000, seed=11)
    assert size > 25 * 1024 * 1024

    tracemalloc.start()
    try:
        history = open_history(path)
        total = count_candidates(history)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert total == 30_000
    assert peak < size / 4, f"peak {peak} bytes while reading {size} bytes"
