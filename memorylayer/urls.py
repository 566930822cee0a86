from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer

from accounts.api.views import MeView, RegisterView, TokenBlacklistView, TokenObtainPairView, TokenRefreshView
from memories.api.memory_views import MemoryViewSet, NDJSONParser, NDJSONRenderer
from memories.api.views import ContextViewSet, SaveViewSet
from memorylayer import health

handler400 = "memorylayer.errors.handler400"
handler403 = "memorylayer.errors.handler403"
handler404 = "memorylayer.errors.handler404"
handler500 = "memorylayer.errors.handler500"

# The JSON API. Served twice: at the root (the seed's paths, which the browser extension calls) and under
# /api/v1/ (URL names there are namespaced "v1:"). New API endpoints go in this list.
api_urlpatterns = [
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
        MemoryViewSet.as_view({"post": "import_memories"}, parser_classes=[JSONParser, NDJSONParser, MultiPartParser]),
        name="memory-import",
    ),
    re_path(
        r"^memories/(?P<pk>[0-9]+)/?$",
        MemoryViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="memory-detail",
    ),
    re_path(r"^auth/register/?$", RegisterView.as_view(), name="register"),
    path("auth/token/", TokenObtainPairView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/token/blacklist/", TokenBlacklistView.as_view(), name="token-blacklist"),
    re_path(r"^auth/me/?$", MeView.as_view(), name="me"),
]

urlpatterns = [
    *api_urlpatterns,
    path("api/v1/", include((api_urlpatterns, "v1"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("admin/", admin.site.urls),
    re_path(r"^health/?$", health.liveness, name="health"),
]
