"""What the MCP tools do, in plain synchronous Django: the same services and selectors as the API's views.

``search_memories`` is /context (the same ranking, abstention and token budget), ``save_memory`` is /save-prompt
(redaction, capture rules, dedup), and both count against the daily quota exactly as those endpoints do: one
request each, given back when the call fails. ``recent_memories`` and ``forget_memory`` are GET /memories/ and
DELETE /memories/{id}, which the quota does not count either. Every call names its person: nothing here can reach
another person's memories. Every call acts on one space (the ``space`` argument, else the token's default space,
never all of them; a space outside the token is "space not found", docs/spaces.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework import serializers

from accounts import services as account_services
from accounts.models import PersonalAccessToken, Space, User, preferences_of
from accounts.oauth import OAuthAccess
from accounts.spaces import space_pick
from core.db_routing import replica_read
from core.errors import flatten_errors
from core.exceptions import ApplicationError, NotFound
from mcp_server.serializers import ForgetArguments, RecentArguments, SaveArguments, SearchArguments
from memories import selectors as memory_selectors
from memories import services as memory_services
from memories.models import Kind, Memory
from memories.search import context

# recent_memories shows at most this much of each memory: the list is for finding one, search is for reading.
RECENT_TEXT_CHARS = 500


@dataclass(frozen=True)
class Caller:
    """Who is calling: the token's (or JWT's) person, whether the credential may write, and the access token
    itself (a personal one, or a connected app's OAuth access; None for a JWT), whose spaces bound every call."""

    user: User
    can_write: bool
    token: PersonalAccessToken | OAuthAccess | None = None


def _space(caller: Caller, v: dict[str, Any]) -> Space:
    return space_pick(user=caller.user, raw=v.get("space"), token=caller.token)


class ToolError(Exception):
    """A refusal the assistant should read (bad arguments, read-only token, quota): an ``isError`` tool result."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _arguments(serializer_class: type[serializers.Serializer], arguments: dict[str, Any]) -> dict[str, Any]:
    serializer = serializer_class(data=arguments)
    if not serializer.is_valid():
        raise ToolError("Invalid arguments: " + "; ".join(flatten_errors(serializer.errors)))
    return dict(serializer.validated_data)


def _require_write(caller: Caller, tool: str) -> None:
    if not caller.can_write:
        raise ToolError(f"This access token is read-only: {tool} needs a token with the write scope")


@contextlib.contextmanager
def _counted(caller: Caller) -> Iterator[None]:
    """One request of the daily quota, as the API's DailyQuotaMixin counts it; refunded if the call fails."""
    usage = account_services.usage_consume(user=caller.user)
    if not usage.allowed:
        reset = usage.reset_at.isoformat().replace("+00:00", "Z")
        raise ToolError(
            f"Daily limit of {usage.limit} requests reached for the {caller.user.tier} tier; resets {reset}"
        )
    try:
        yield
    except BaseException:
        account_services.usage_refund(user=caller.user, usage=usage)
        raise


def _labelled(memory_id: int, text: str) -> str:
    return f"(memory {memory_id}) {text}"


def search_memories(caller: Caller, arguments: dict[str, Any]) -> str:
    with _counted(caller):
        v = _arguments(SearchArguments, arguments)
        space = _space(caller, v)
        if not preferences_of(caller.user).context:
            return "No memories: this person has turned context off in their settings."
        filters = context.ContextFilters(provider=v["provider"], since=v["since"], until=v["until"], space_id=space.pk)
        results = replica_read(  # as /context: on the replica when it has this person's last write
            caller.user.pk,
            lambda: context.context_search(
                user=caller.user,
                query=v["query"],
                top_k=settings.CONTEXT_TOP_K_DEFAULT,
                filters=filters,
                max_tokens=v["max_tokens"],
            ),
        )
    if not results:
        return "No memory is relevant enough to this query."
    found = "\n\n".join(_labelled(r.memory_id, r.text) for r in results)
    return f"{len(results)} relevant {'memory' if len(results) == 1 else 'memories'}, most relevant first:\n\n{found}"


def save_memory(caller: Caller, arguments: dict[str, Any]) -> str:
    _require_write(caller, "save_memory")
    with _counted(caller):
        v = _arguments(SaveArguments, arguments)
        result = memory_services.memory_save(
            user=caller.user, space=_space(caller, v), kind=Kind.PROMPT, provider=v["provider"], text=v["text"]
        )
    if result.memory is None:
        return f"Not saved: {result.skipped} (this person's capture settings)."
    redacted = f"; {result.redacted} secret(s) were replaced by [REDACTED:...] first" if result.redacted else ""
    if result.duplicate:
        return f"Already saved as memory {result.memory.pk}{redacted}."
    return f"Saved as memory {result.memory.pk} (provider {result.memory.provider}){redacted}."


def _listed(memory: Memory) -> str:
    text = memory.text if len(memory.text) <= RECENT_TEXT_CHARS else memory.text[:RECENT_TEXT_CHARS] + "…"
    line = context.format_context(
        kind=memory.kind, provider=memory.provider, text=text, prompt=memory.prompt, created_at=memory.created_at
    )
    return _labelled(memory.pk, line)


def recent_memories(caller: Caller, arguments: dict[str, Any]) -> str:
    v = _arguments(RecentArguments, arguments)
    space = _space(caller, v)
    memories = replica_read(  # as GET /memories
        caller.user.pk, lambda: list(memory_selectors.memory_list(user=caller.user, space=space)[: v["limit"]])
    )
    if not memories:
        return "No memories saved yet."
    return f"The {len(memories)} most recent memories, newest first:\n\n" + "\n\n".join(map(_listed, memories))


def forget_memory(caller: Caller, arguments: dict[str, Any]) -> str:
    _require_write(caller, "forget_memory")
    v = _arguments(ForgetArguments, arguments)
    space = _space(caller, v)
    try:
        memory_services.memory_delete(user=caller.user, memory_id=v["memory_id"], space=space)
    except NotFound as exc:
        raise ToolError(f"There is no memory {v['memory_id']} among this person's memories in this space") from exc
    return f"Forgot memory {v['memory_id']}: it is deleted for good."


# The tools that only read: a call of one records no write position (core.db_routing.request_writes).
READ_TOOLS = frozenset({"search_memories", "recent_memories"})

TOOLS: dict[str, Callable[[Caller, dict[str, Any]], str]] = {
    "search_memories": search_memories,
    "save_memory": save_memory,
    "recent_memories": recent_memories,
    "forget_memory": forget_memory,
}


def tool_run(*, caller: Caller, name: str, arguments: dict[str, Any]) -> str:
    """Run one tool; a domain refusal (an ApplicationError from a service) becomes a ToolError too."""
    try:
        return TOOLS[name](caller, arguments)
    except ApplicationError as exc:
        raise ToolError(exc.message) from exc
