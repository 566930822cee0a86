"""Thin views: validate the input, call one service or selector, serialize the output."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.quota import DailyQuotaMixin
from core.exceptions import InvalidInput, NotAllowed
from core.openapi import error_responses
from memories import selectors, services
from memories.api.serializers import (
    ContextOutput,
    ContextQueryInput,
    SaveOutput,
    SavePromptInput,
    SaveResponseInput,
)
from memories.idempotency import idempotent
from memories.models import Kind


def ensure_own_user_id(request: Request, user_id: Any) -> None:
    """A ``user_id`` the client sends must be the token's user; anything else is refused, never looked up."""
    if user_id is None:
        return
    if str(user_id).strip().lower() != str(request.user.pk).lower():
        raise NotAllowed("User ID mismatch")


def _json_object(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise InvalidInput("Request body must be a JSON object")
    return request.data


def _saved(result: services.SaveResult) -> Response:
    body = SaveOutput(
        {
            "success": True,
            "chunks_stored": result.chunks_stored,
            "timestamp": result.memory.created_at,
            "memory_id": result.memory.pk,
            "duplicate": result.duplicate,
        }
    ).data
    return Response(body, status=status.HTTP_200_OK if result.duplicate else status.HTTP_201_CREATED)


class SaveViewSet(DailyQuotaMixin, viewsets.ViewSet):
    """POST /save-prompt and POST /save-response."""

    @extend_schema(
        request=SavePromptInput,
        responses={201: SaveOutput, 200: SaveOutput, **error_responses(403)},
        summary="Save a prompt (200 with duplicate=true if already stored)",
    )
    @idempotent
    def save_prompt(self, request: Request) -> Response:
        data = _json_object(request)
        ensure_own_user_id(request, data.get("user_id"))
        serializer = SavePromptInput(data=data)
        serializer.is_valid(raise_exception=True)
        v = serializer.validated_data
        result = services.memory_save(
            user=request.user,  # type: ignore[arg-type]
            kind=Kind.PROMPT,
            provider=v["provider"],
            text=v["prompt"],
            priority=v["priority"],
            pinned=v["pinned"],
            created_at=v["timestamp"],
        )
        return _saved(result)

    @extend_schema(
        request=SaveResponseInput,
        responses={201: SaveOutput, 200: SaveOutput, **error_responses(403)},
        summary="Save an answer with its prompt (200 with duplicate=true if already stored)",
    )
    @idempotent
    def save_response(self, request: Request) -> Response:
        data = _json_object(request)
        ensure_own_user_id(request, data.get("user_id"))
        serializer = SaveResponseInput(data=data)
        serializer.is_valid(raise_exception=True)
        v = serializer.validated_data
        result = services.memory_save(
            user=request.user,  # type: ignore[arg-type]
            kind=Kind.RESPONSE,
            provider=v["provider"],
            text=v["response"],
            prompt=v["prompt"],
            priority=v["priority"],
            pinned=v["pinned"],
            created_at=v["timestamp"],
        )
        return _saved(result)


class ContextViewSet(DailyQuotaMixin, viewsets.ViewSet):
    """GET /context/{user_id}?query=...&top_k=5"""

    @extend_schema(
        parameters=[ContextQueryInput],
        responses={200: ContextOutput, **error_responses(403)},
        summary="The memories closest in meaning to a query",
    )
    def retrieve(self, request: Request, user_id: str) -> Response:
        ensure_own_user_id(request, user_id)
        serializer = ContextQueryInput(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        v = serializer.validated_data
        filters = selectors.ContextFilters(
            provider=v["provider"], kind=v["kind"], since=v["since"], until=v["until"], min_score=v["min_score"]
        )
        results = selectors.context_search(
            user=request.user,  # type: ignore[arg-type]
            query=v["query"],
            top_k=v["top_k"],
            filters=filters,
        )
        body = {"contexts": [r.text for r in results], "count": len(results), "results": results}
        return Response(ContextOutput(body).data)
