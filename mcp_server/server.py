"""The MCP server: the official SDK's low-level ``Server`` with the four tools, their descriptions and schemas
(generated from the argument serializers, mcp_server.schemas).

The handlers are async (the SDK's), the work is not: each tool runs in plain Django through ``sync_to_async``
with ``thread_sensitive=True``, which under the view's ``async_to_sync`` is the request's own thread, so the
ORM sees the request's database connection (and, in tests, its transaction).
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
from asgiref.sync import sync_to_async
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from mcp_server import tools
from mcp_server.schemas import input_schema
from mcp_server.serializers import ForgetArguments, RecentArguments, SaveArguments, SearchArguments

# The ASGI scope key under which the view hands the authenticated caller to the tools.
CALLER_SCOPE_KEY = "memorylayer.caller"

INSTRUCTIONS = (
    "Memory Layer keeps what this person said to their AI assistants (ChatGPT, Claude, Gemini, Grok and MCP "
    "clients) and finds the relevant part again. Call search_memories before answering a question that may "
    "depend on their past conversations, preferences or facts about them; call save_memory when they tell you "
    "something worth remembering across conversations (a preference, a decision, a fact about them)."
)


def tool_definitions() -> list[types.Tool]:
    return [
        types.Tool(
            name="search_memories",
            title="Search memories",
            description=(
                "Find what this person said before that is relevant to a query: their past prompts and the "
                "assistants' answers, ranked exactly as Memory Layer's /context ranks them (meaning and keywords, "
                "newer facts over older ones, pinned memories first). Answers nothing when no memory is relevant "
                "enough, so an empty answer means 'not known', not an error. Each result says when it was said and "
                "who said it ('You (claude): ...' is the person, 'Assistant (chatgpt) answered: ...' an "
                "assistant), and starts with its memory id."
            ),
            input_schema=input_schema(SearchArguments),
            annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
        ),
        types.Tool(
            name="save_memory",
            title="Save a memory",
            description=(
                "Remember something this person said or wants kept, for later conversations with any assistant. "
                "Write it as they would say it ('I moved to Utrecht in March'). Secrets (API keys, passwords) are "
                "redacted before storing; the person's capture settings may turn the save away; saving the same "
                "text twice stores it once. Needs a token with the write scope."
            ),
            input_schema=input_schema(SaveArguments),
            annotations=types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True),
        ),
        types.Tool(
            name="recent_memories",
            title="Recent memories",
            description=(
                "The person's most recently saved memories, newest first, each with its memory id, date and who "
                "said it (long ones shortened). For 'what did I save lately' or to find a memory id to forget; "
                "use search_memories to find memories about something."
            ),
            input_schema=input_schema(RecentArguments),
            annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
        ),
        types.Tool(
            name="forget_memory",
            title="Forget a memory",
            description=(
                "Delete one of the person's memories for good, by the memory id that search_memories and "
                "recent_memories show. Only when the person asks for it. Needs a token with the write scope."
            ),
            input_schema=input_schema(ForgetArguments),
            annotations=types.ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True),
        ),
    ]


def _caller(ctx: Any) -> tools.Caller:
    request = getattr(ctx, "request", None)
    caller = request.scope.get(CALLER_SCOPE_KEY) if request is not None else None
    if not isinstance(caller, tools.Caller):  # the view always sets it; never serve a call without a person
        raise MCPError(types.INTERNAL_ERROR, "No authenticated caller")
    return caller


async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    return types.ListToolsResult(tools=tool_definitions())


async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
    caller = _caller(ctx)
    if params.name not in tools.TOOLS:
        raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
    run = sync_to_async(tools.tool_run, thread_sensitive=True)
    try:
        text = await run(caller=caller, name=params.name, arguments=params.arguments or {})
    except tools.ToolError as exc:
        return types.CallToolResult(content=[types.TextContent(text=exc.message)], is_error=True)
    return types.CallToolResult(content=[types.TextContent(text=text)])


def build_server() -> Server[Any]:
    return Server(
        "memory-layer",
        version="1.0.0",
        title="Memory Layer",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


server = build_server()
