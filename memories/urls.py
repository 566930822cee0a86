"""The memories API: saves, /context and memory management. Mounted at the root and under /api/v1/."""

from django.urls import re_path
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer

from memories.api.views import (
    AccountView,
    ContextViewSet,
    ImportBodyParser,
    ImportViewSet,
    MemoryMoveView,
    MemoryViewSet,
    NDJSONRenderer,
    SaveViewSet,
    SpaceMergeView,
    SpacesView,
    SpaceView,
)

urlpatterns = [
    re_path(r"^me/?$", AccountView.as_view(), name="me-account"),
    re_path(r"^me/spaces/?$", SpacesView.as_view(), name="me-spaces"),
    re_path(r"^me/spaces/(?P<space_id>[^/]+)/merge/?$", SpaceMergeView.as_view(), name="me-space-merge"),
    re_path(r"^me/spaces/(?P<space_id>[^/]+)/?$", SpaceView.as_view(), name="me-space"),
    re_path(r"^memories/move/?$", MemoryMoveView.as_view(), name="memory-move"),
    re_path(r"^save-prompt/?$", SaveViewSet.as_view({"post": "save_prompt"}), name="save-prompt"),
    re_path(r"^save-response/?$", SaveViewSet.as_view({"post": "save_response"}), name="save-response"),
    re_path(r"^context/(?P<user_id>[^/]+)/?$", ContextViewSet.as_view({"get": "retrieve"}), name="context"),
    re_path(r"^memories/?$", MemoryViewSet.as_view({"get": "list", "delete": "destroy_all"}), name="memory-list"),
    re_path(
        r"^memories/export/?$",
        MemoryViewSet.as_view({"get": "export"}, renderer_classes=[JSONRenderer, NDJSONRenderer]),
        name="memory-export",
    ),
    re_path(
        r"^memories/import/?$",
        ImportViewSet.as_view({"post": "create"}, parser_classes=[MultiPartParser, ImportBodyParser]),
        name="memory-import",
    ),
    re_path(
        r"^memories/import/(?P<job_id>[^/]+)/?$", ImportViewSet.as_view({"get": "retrieve"}), name="memory-import-job"
    ),
    re_path(
        r"^memories/(?P<pk>[0-9]+)/?$",
        MemoryViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="memory-detail",
    ),
]
