"""Thin views: validate the input, call one service or selector, serialize the output."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import BaseParser, DataAndFiles
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts import spaces
from accounts.api.quota import DailyQuotaMixin
from accounts.api.serializers import (
    SpaceCreateInput,
    SpaceDeleteQuery,
    SpaceMergeInput,
    SpaceOutput,
    SpaceUpdateInput,
)
from accounts.authentication import (
    PersonalTokenAuthentication,
    SupabaseJWTAuthentication,
    UserJWTAuthentication,
    request_user,
)
from accounts.models import Space, preferences_of
from accounts.permissions import NoAccessToken, NoAccessTokenToChange, TokenScopePermission, access_token_of
from accounts.ratelimit import burst_check, user_key
from core.db_routing import replica_read, replica_stream
from core.exceptions import InvalidInput, NotAllowed, TooLarge
from core.inputs import json_object
from core.openapi import ErrorEnvelope, error_responses
from memories import selectors, services
from memories.api.idempotency import idempotent
from memories.api.serializers import (
    AccountDeletedOutput,
    AccountDeleteInput,
    ContextOutput,
    ContextQueryInput,
    DeleteAllInput,
    DeletedOutput,
    ImportOutput,
    ImportUploadInput,
    MemoryListQuery,
    MemoryMoveInput,
    MemoryOutput,
    MemoryUpdateInput,
    MovedOutput,
    SaveOutput,
    SavePromptInput,
    SaveResponseInput,
    SkippedOutput,
    SpaceDeletedOutput,
)
from memories.models import ImportStatus, Kind
from memories.search import context
from memories.transfer import importers, jobs

# Room for the multipart boundaries and headers around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
BODY_READ_BYTES = 64 * 1024
# The file name an import sent as the request body is listed under (it has none of its own).
BODY_NAME = "request body"


def ensure_own_user_id(request: Request, user_id: Any) -> None:
    """A ``user_id`` the client sends must be the token's user; anything else is refused, never looked up."""
    if user_id is None:
        return
    if str(user_id).strip().lower() != str(request_user(request).pk).lower():
        raise NotAllowed("User ID mismatch")


def _saved(result: services.SaveResult) -> Response:
    if result.memory is None:  # the person's capture settings: a success for the client, nothing stored
        skipped = {"success": True, "chunks_stored": 0, "timestamp": timezone.now(), "skipped": result.skipped}
        return Response(SkippedOutput(skipped).data, status=status.HTTP_200_OK)
    body = SaveOutput(
        {
            "success": True,
            "chunks_stored": result.chunks_stored,
            "timestamp": result.memory.created_at,
            "memory_id": result.memory.pk,
            "duplicate": result.duplicate,
            "redacted": result.redacted,
        }
    ).data
    return Response(body, status=status.HTTP_200_OK if result.duplicate else status.HTTP_201_CREATED)


SAVED_OR_SKIPPED = PolymorphicProxySerializer(
    component_name="SavedOrSkipped",
    serializers=[SaveOutput, SkippedOutput],
    resource_type_field_name=None,
)


class SaveViewSet(DailyQuotaMixin, viewsets.ViewSet):
    """POST /save-prompt and POST /save-response."""

    @extend_schema(
        request=SavePromptInput,
        responses={201: SaveOutput, 200: SAVED_OR_SKIPPED, **error_responses(403, 404)},
        summary="Save a prompt (200 with duplicate=true if already stored, or skipped by the capture settings)",
    )
    @idempotent
    def save_prompt(self, request: Request) -> Response:
        return self._save(request, SavePromptInput, kind=Kind.PROMPT, text_field="prompt")

    @extend_schema(
        request=SaveResponseInput,
        responses={201: SaveOutput, 200: SAVED_OR_SKIPPED, **error_responses(403, 404)},
        summary="Save an answer with its prompt (200 with duplicate=true if already stored, or skipped)",
    )
    @idempotent
    def save_response(self, request: Request) -> Response:
        return self._save(request, SaveResponseInput, kind=Kind.RESPONSE, text_field="response", prompt_field="prompt")

    def _save(
        self, request: Request, input_class: type[Serializer], *, kind: str, text_field: str, prompt_field: str = ""
    ) -> Response:
        """The one save path: the two endpoints differ only in their input serializer, its field names and the
        memory's kind."""
        data = json_object(request.data)  # read before validation: another person's user_id is 403, not 400
        ensure_own_user_id(request, data.get("user_id"))
        # Not one of the caller's spaces: 404, nothing stored. None: the default space (looked up by the save).
        space = spaces.space_named_by_request(request, body=data)
        serializer = input_class(data=data)
        serializer.is_valid(raise_exception=True)
        v = serializer.validated_data
        result = services.memory_save(
            user=request_user(request),
            space=space,
            kind=kind,
            provider=v["provider"],
            text=v[text_field],
            prompt=v[prompt_field] if prompt_field else "",
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
        space = spaces.space_named_by_request(request)  # not the caller's: 404; None: the default, found by the search
        serializer = ContextQueryInput(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        v = serializer.validated_data
        filters = context.ContextFilters(
            provider=v["provider"],
            kind=v["kind"],
            since=v["since"],
            until=v["until"],
            min_score=v["min_score"],
            space_id=space.pk if space is not None else None,
        )
        user = request_user(request)
        if not preferences_of(user).context:  # the person turned context off
            return Response(ContextOutput({"contexts": [], "count": 0, "results": []}).data)
        results = replica_read(
            user.pk,
            lambda: context.context_search(
                user=user, query=v["query"], top_k=v["top_k"], filters=filters, max_tokens=v["max_tokens"]
            ),
        )
        body = {"contexts": [r.text for r in results], "count": len(results), "results": results}
        return Response(ContextOutput(body).data)


NDJSON = "application/x-ndjson"


class NDJSONRenderer(BaseRenderer):
    """Selected by ``?format=ndjson`` (or ``Accept: application/x-ndjson``) on the export."""

    media_type = NDJSON
    format = "ndjson"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        # Only error envelopes pass through here; the export itself streams past the renderer.
        return (json.dumps(data) + "\n").encode()


class ImportBodyParser(BaseParser):
    """Any body but a multipart form on POST /memories/import, copied unread to a temporary file: the one import
    reader recognises JSON, NDJSON or a zip from its bytes, whatever the Content-Type says."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> DataAndFiles:
        body = TemporaryUploadedFile(name=BODY_NAME, content_type=media_type or "", size=0, charset=None)
        size, limit = 0, settings.MEMORY_IMPORT_MAX_FILE_BYTES
        while piece := stream.read(BODY_READ_BYTES):
            size += len(piece)
            if size > limit:  # a body sent without (or with a false) Content-Length
                body.close()
                raise TooLarge(jobs.file_too_big_message())
            body.write(piece)
        body.flush()
        body.size = size
        return DataAndFiles({}, MultiValueDict({"file": [body]}))  # request.FILES["file"], as from a form


class MemoryPagination(PageNumberPagination):
    page_size = settings.MEMORY_LIST_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = settings.MEMORY_LIST_MAX_PAGE_SIZE

    def get_page_size(self, request: Request) -> int | None:
        # DRF falls back to the default for a page_size it cannot read; a client asking for "abc" or 0 items
        # per page is told so instead. Above the maximum, the maximum applies (documented).
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) > 0):
            raise ValidationError({self.page_size_query_param: "must be a positive integer."})
        return super().get_page_size(request)

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        # DRF reads an empty ?page= as page 1; the paginator refuses it instead (404), as it does "abc".
        raw = request.query_params.get(self.page_query_param)
        return raw if raw == "" else super().get_page_number(request, paginator)


class MemoryViewSet(viewsets.GenericViewSet):
    serializer_class = MemoryOutput
    pagination_class = MemoryPagination

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        if not force and request.query_params.get("format", None) == "":
            # Content negotiation would silently ignore an empty ?format= (and answer JSON): refuse it like any
            # other value outside the documented enum.
            raise InvalidInput("Unsupported format: use format=json or format=ndjson (export only)")
        try:
            return super().perform_content_negotiation(request, force)
        except Http404 as exc:  # DRF's answer to an unknown ?format=
            raise InvalidInput("Unsupported format: use format=json or format=ndjson (export only)") from exc

    @extend_schema(
        parameters=[MemoryListQuery],
        responses={
            200: MemoryOutput(many=True),
            404: OpenApiResponse(ErrorEnvelope, description="No such page (not a positive number, or past the last)."),
        },
        summary="List memories",
    )
    def list(self, request: Request) -> Response:
        scope = spaces.spaces_for_request(request)
        query = MemoryListQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        filters = {name: value for name, value in query.validated_data.items() if name != "space"}
        user = request_user(request)

        def page_read() -> Response:  # on the replica when it may serve this person (core.db_routing)
            page = self.paginate_queryset(selectors.memory_list(user=user, space=scope, **filters))
            return self.get_paginated_response(MemoryOutput(page, many=True).data)

        return replica_read(user.pk, page_read)

    @extend_schema(responses={200: MemoryOutput}, summary="One memory")
    def retrieve(self, request: Request, pk: str) -> Response:
        scope = spaces.spaces_for_request(request)
        memory = selectors.memory_get(user=request_user(request), memory_id=int(pk), space=scope)
        return Response(MemoryOutput(memory).data)

    @extend_schema(
        request=MemoryUpdateInput,
        responses={200: MemoryOutput},
        summary="Change priority and/or pinned",
        description="Only `priority` and `pinned` can change; any other field is refused with 400.",
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        scope = spaces.spaces_for_request(request, body=request.data)
        serializer = MemoryUpdateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        memory = services.memory_update(
            user=request_user(request),
            memory_id=int(pk),
            space=scope,
            **serializer.validated_data,
        )
        return Response(MemoryOutput(memory).data)

    @extend_schema(request=None, responses={200: DeletedOutput}, summary="Delete one memory")
    def destroy(self, request: Request, pk: str) -> Response:
        scope = spaces.spaces_for_request(request)
        deleted = services.memory_delete(user=request_user(request), memory_id=int(pk), space=scope)
        return Response(DeletedOutput({"deleted": deleted}).data)

    @extend_schema(
        request=DeleteAllInput,
        parameters=[OpenApiParameter("confirm", OpenApiTypes.BOOL, description="Alternative to the body.")],
        responses={200: DeletedOutput},
        summary="Delete every memory (needs confirm=true)",
        description='Send `{"confirm": true}` as the JSON body (or `?confirm=true`); without it: 400, nothing deleted.',
    )
    def destroy_all(self, request: Request) -> Response:
        # The JSON body, or else ?confirm= (the only query parameter read here besides the space).
        data = request.data or {key: value for key, value in request.query_params.items() if key == "confirm"}
        scope = spaces.spaces_for_request(request, body=data)
        serializer = DeleteAllInput(data=data)
        serializer.is_valid(raise_exception=True)
        deleted = services.memory_delete_all(user=request_user(request), space=scope)
        return Response(DeletedOutput({"deleted": deleted}).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format", OpenApiTypes.STR, enum=["json", "ndjson"], description="json (default) or ndjson."
            )
        ],
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="The export document."),
            (200, NDJSON): OpenApiResponse(OpenApiTypes.STR, description="One memory object per line."),
        },
        summary="Export every memory (streamed)",
    )
    def export(self, request: Request) -> StreamingHttpResponse:
        ndjson = request.accepted_renderer.format == "ndjson"
        scope = spaces.spaces_for_request(request)
        user = request_user(request)
        export = importers.export_ndjson if ndjson else importers.export_json
        rows = replica_stream(user.pk, export(user=user, space=scope))
        response = StreamingHttpResponse(
            (piece.encode() for piece in rows),
            content_type=f"{NDJSON}; charset=utf-8" if ndjson else "application/json; charset=utf-8",
        )
        name = f"memories-{timezone.now():%Y%m%d}.{'ndjson' if ndjson else 'json'}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class ImportViewSet(DailyQuotaMixin, viewsets.ViewSet):
    """POST /memories/import (one request of the daily quota, whatever the file holds) and
    GET /memories/import/<job_id> (its progress; not counted)."""

    uncounted_actions = frozenset({"retrieve"})

    def get_throttles(self) -> list[BaseThrottle]:
        # A client polls an import's progress: the poll is neither counted (above) nor burst-limited.
        return [] if self.action in self.uncounted_actions else super().get_throttles()

    @extend_schema(
        request={
            "multipart/form-data": ImportUploadInput,
            "application/json": OpenApiTypes.OBJECT,
            NDJSON: OpenApiTypes.STR,
            "application/zip": OpenApiTypes.BINARY,
        },
        responses={
            200: OpenApiResponse(ImportOutput, description="Imported within the request (a small upload)."),
            202: OpenApiResponse(ImportOutput, description="Queued for the worker: follow status_url."),
            **error_responses(404, 413),
        },
        summary="Import a chat history, as a file (multipart field `file`) or as the request body",
        description=(
            "ChatGPT's conversations.json or its export .zip, claude.ai's conversations.json, or a Memory Layer "
            "export (JSON or NDJSON), up to MEMORY_IMPORT_MAX_FILE_BYTES, sent either way: the format is recognised "
            "from the content. Up to MEMORY_IMPORT_MAX_BYTES and MEMORY_IMPORT_MAX_ITEMS memories it is imported "
            "within the request (200); past either, kept and imported by the queue's worker (202). Both answers, "
            "and GET status_url, are the same import object."
        ),
        examples=[
            OpenApiExample(
                "A Memory Layer export",
                value={
                    "memories": [
                        {
                            "kind": "prompt",
                            "provider": "claude",
                            "text": "I live in Lyon.",
                            "created_at": "2025-06-01T08:00:00Z",
                        }
                    ]
                },
                request_only=True,
            )
        ],
    )
    def create(self, request: Request) -> Response:
        # core.middleware exempts this path from the general cap, after refusing a malformed Content-Length.
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        multipart = request.content_type.startswith("multipart/form-data")
        if length > settings.MEMORY_IMPORT_MAX_FILE_BYTES + (MULTIPART_OVERHEAD_BYTES if multipart else 0):
            raise TooLarge(jobs.file_too_big_message())
        upload = request.FILES.get("file")
        if multipart and upload is None:
            raise InvalidInput("Send the file in a multipart form field named 'file'")
        if upload is None:  # no body at all: read like an empty file
            upload = SimpleUploadedFile(BODY_NAME, b"")
        space = spaces.space_for_request(request, body=request.data)
        job = jobs.import_receive(user=request_user(request), upload=upload, space=space)
        status_url = f"{request.path.rstrip('/')}/{job.pk}"
        code = status.HTTP_200_OK if job.status == ImportStatus.DONE else status.HTTP_202_ACCEPTED
        return Response(ImportOutput(job, context={"status_url": status_url}).data, status=code)

    @extend_schema(responses={200: ImportOutput, **error_responses(404)}, summary="An import's progress")
    def retrieve(self, request: Request, job_id: str) -> Response:
        # Polled by its status_url, which names no space: any space the caller may use (a token: only its own).
        reachable = spaces.spaces_pick(
            user=request_user(request), raw=spaces.ALL_SPACES, token=access_token_of(request)
        )
        job = jobs.import_job_of(user=request_user(request), job_id=job_id, space=reachable)
        return Response(ImportOutput(job, context={"status_url": request.path}).data)


class AccountView(APIView):
    """DELETE /me: the caller's account and everything it holds, for good. With the person's own sign-in (a JWT),
    their password (and a two-factor code when they use one); never with a personal access token, whatever its
    scope: a token handed to a script must not be able to erase the person."""

    permission_classes = [IsAuthenticated, NoAccessToken]

    @extend_schema(
        request=AccountDeleteInput,
        responses={
            200: AccountDeletedOutput,
            403: OpenApiResponse(
                ErrorEnvelope, description="Wrong password or code, or sent with a personal access token."
            ),
            **error_responses(400, 429),
        },
        summary="Delete my account and everything in it",
        description='Send `{"confirm": true, "password": "..."}` (and `"code"` with two-factor sign-in on). '
        "Memories, settings, tokens, sign-ins, imports and usage are deleted at once; nothing can be recovered.",
    )
    def delete(self, request: Request) -> Response:
        # Tight, like the sign-in endpoints: the password is checked here.
        burst_check(request, group="account-delete", key=user_key, rate=settings.RATELIMIT_AUTH_RATE)
        serializer = AccountDeleteInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = request_user(request)
        account_services.user_reauthenticate(
            user=user,
            password=serializer.validated_data["password"],
            code=serializer.validated_data["code"],
        )
        deletion = services.account_delete(user=user, via="api")
        return Response(AccountDeletedOutput({"deleted_at": deletion.deleted_at}).data)


# --- Spaces ---------------------------------------------------------------------------------------------------

_SPACE_NOT_FOUND = OpenApiResponse(ErrorEnvelope, description="Not one of your spaces (or not a space id at all).")
_NO_ACCESS_TOKEN = OpenApiResponse(ErrorEnvelope, description="Sent with a personal access token.")


def _own_space(request: Request, space_id: str) -> Space:
    """One of the caller's own spaces by its id in the path: anything else is 404 (docs/spaces.md)."""
    return spaces.space_pick(user=request_user(request), raw=space_id, token=access_token_of(request))


def _space_body(space: Space) -> dict[str, Any]:
    count = getattr(space, "memory_count", None)
    if count is None:
        count = space.memories.count()
    return {"id": space.pk, "name": space.name, "is_default": space.is_default, "memories": count}


class SpacesView(APIView):
    """GET and POST /me/spaces: the person's spaces, each with its number of memories (a personal access token
    sees only its own spaces and cannot make one)."""

    authentication_classes = [
        PersonalTokenAuthentication,
        SupabaseJWTAuthentication,
        UserJWTAuthentication,
        SessionAuthentication,  # the /app/ session: DRF enforces Django's CSRF check on unsafe methods
    ]

    permission_classes = [IsAuthenticated, TokenScopePermission, NoAccessTokenToChange]

    @extend_schema(responses={200: SpaceOutput(many=True), **error_responses(429)}, summary="My spaces")
    def get(self, request: Request) -> Response:
        listed = account_selectors.space_list(user=request_user(request))
        token = access_token_of(request)
        if token is not None:
            held = {space.pk for space in token.held_spaces()}
            listed = listed.filter(pk__in=held)
        return Response(SpaceOutput([_space_body(space) for space in listed], many=True).data)

    @extend_schema(
        request=SpaceCreateInput,
        responses={201: SpaceOutput, 403: _NO_ACCESS_TOKEN, **error_responses(400, 409, 429)},
        summary="Make a space (a name unique among mine, whatever its case)",
    )
    def post(self, request: Request) -> Response:
        serializer = SpaceCreateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        space = account_services.space_create(user=request_user(request), **serializer.validated_data)
        return Response(SpaceOutput(_space_body(space)).data, status=status.HTTP_201_CREATED)


class SpaceView(APIView):
    """PATCH and DELETE /me/spaces/{id}: rename it or make it the default; delete it with its memories, or after
    moving them (``?memories=delete|move&to=<id>``). Not with a personal access token."""

    authentication_classes = SpacesView.authentication_classes
    permission_classes = [IsAuthenticated, NoAccessToken]

    @extend_schema(
        request=SpaceUpdateInput,
        responses={200: SpaceOutput, 403: _NO_ACCESS_TOKEN, 404: _SPACE_NOT_FOUND, **error_responses(400, 409, 429)},
        summary="Rename a space and/or make it the default",
    )
    def patch(self, request: Request, space_id: str) -> Response:
        serializer = SpaceUpdateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        space = _own_space(request, space_id)
        space = account_services.space_update(user=request_user(request), space=space, **serializer.validated_data)
        return Response(SpaceOutput(_space_body(space)).data)

    @extend_schema(
        parameters=[SpaceDeleteQuery],
        request=None,
        responses={
            200: SpaceDeletedOutput,
            403: _NO_ACCESS_TOKEN,
            404: _SPACE_NOT_FOUND,
            409: OpenApiResponse(ErrorEnvelope, description="The default space: make another the default first."),
            **error_responses(400, 429),
        },
        summary="Delete a space: its memories are deleted, or moved to another space first",
    )
    def delete(self, request: Request, space_id: str) -> Response:
        space = _own_space(request, space_id)
        query = SpaceDeleteQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        v = query.validated_data
        to = _own_space(request, v["to"]) if v["memories"] == "move" else None
        result = services.space_delete(user=request_user(request), space=space, mode=v["memories"], to=to)
        body = {"deleted": result.deleted, "moved": result.moved, "merged": result.merged}
        return Response(SpaceDeletedOutput(body).data)


class SpaceMergeView(APIView):
    """POST /me/spaces/{id}/merge {"into": id}: every memory moves into the other space, then this one is deleted."""

    authentication_classes = SpacesView.authentication_classes
    permission_classes = [IsAuthenticated, NoAccessToken]

    @extend_schema(
        request=SpaceMergeInput,
        responses={200: MovedOutput, 403: _NO_ACCESS_TOKEN, 404: _SPACE_NOT_FOUND, **error_responses(400, 429)},
        summary="Merge a space into another (the same text held by both is kept once)",
    )
    def post(self, request: Request, space_id: str) -> Response:
        serializer = SpaceMergeInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        source = _own_space(request, space_id)
        into = _own_space(request, serializer.validated_data["into"])
        moved = services.space_merge(user=request_user(request), source=source, into=into)
        return Response(MovedOutput({"moved": moved.moved, "merged": moved.merged}).data)


class MemoryMoveView(APIView):
    """POST /memories/move {"ids": [...], "space": id}: move some of my memories into one of my spaces."""

    @extend_schema(
        request=MemoryMoveInput,
        responses={200: MovedOutput, 404: _SPACE_NOT_FOUND, **error_responses(400, 429)},
        summary="Move memories into another space",
    )
    def post(self, request: Request) -> Response:
        serializer = MemoryMoveInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        to = spaces.space_for_request(request, body=serializer.validated_data)
        moved = services.memories_move(user=request_user(request), memory_ids=serializer.validated_data["ids"], to=to)
        return Response(MovedOutput({"moved": moved.moved, "merged": moved.merged}).data)
