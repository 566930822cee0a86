from django.contrib import admin
from django.urls import path, re_path

from accounts.api.views import MeView, RegisterView, TokenBlacklistView, TokenObtainPairView, TokenRefreshView
from memories.api.views import ContextViewSet, SaveViewSet
from memorylayer import health

handler400 = "memorylayer.errors.handler400"
handler403 = "memorylayer.errors.handler403"
handler404 = "memorylayer.errors.handler404"
handler500 = "memorylayer.errors.handler500"

urlpatterns = [
    re_path(r"^save-prompt/?$", SaveViewSet.as_view({"post": "save_prompt"}), name="save-prompt"),
    re_path(r"^save-response/?$", SaveViewSet.as_view({"post": "save_response"}), name="save-response"),
    re_path(r"^context/(?P<user_id>[^/]+)/?$", ContextViewSet.as_view({"get": "retrieve"}), name="context"),
    re_path(r"^auth/register/?$", RegisterView.as_view(), name="register"),
    path("auth/token/", TokenObtainPairView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/token/blacklist/", TokenBlacklistView.as_view(), name="token-blacklist"),
    re_path(r"^auth/me/?$", MeView.as_view(), name="me"),
    path("admin/", admin.site.urls),
    re_path(r"^health/?$", health.liveness, name="health"),
]
