from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from memories.models import Memory

pytestmark = pytest.mark.django_db


@override_settings(MEMORY_IMPORT_MAX_ITEMS=1)
def test_it_imports_a_file_past_the_api_caps_and_reports(alice, tmp_path):
    items = [{"kind": "prompt", "provider": "claude", "text": t} for t in ("I row.", "I sail.", "I row.")]
    items.append({"kind": "prompt", "provider": "myspace", "text": "x"})
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"memories": items}))
    out = StringIO()

    call_command("import_memories", "alice", str(path), stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == "4/4"
    assert lines[-1] == "memorylayer.export: imported 2, already stored 1, skipped 0, failed 1"
    assert any(line.startswith("failed: memories[3]: provider:") for line in lines)
    assert sorted(Memory.objects.filter(user=alice).values_list("text", flat=True)) == ["I row.", "I sail."]


def test_it_finds_the_user_by_id_and_refuses_unknown_users_and_files(alice, tmp_path):
    path = tmp_path / "x.ndjson"
    path.write_text('{"kind": "prompt", "provider": "grok", "text": "Hi"}\n')
    call_command("import_memories", str(alice.pk), str(path), stdout=StringIO())
    assert Memory.objects.filter(user=alice).count() == 1

    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("import_memories", "nobody", str(path))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_memories", "alice", str(tmp_path / "missing.json"))
    (tmp_path / "empty.json").write_text("[]")
    with pytest.raises(CommandError, match="Nothing to import"):
        call_command("import_memories", "alice", str(tmp_path / "empty.json"))
