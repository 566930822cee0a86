"""The accounts API: registration, tokens (JWTs and personal access tokens), the caller's own account and a web
sign-in link. Mounted at the root and under /api/v1/."""

from django.urls import path, re_path

from accounts.api.views import (
    AccessTokensView,
    AccessTokenView,
    MeView,
    PreferencesView,
    RegisterView,
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
    WebLoginLinkView,
)

urlpatterns = [
    re_path(r"^auth/register/?$", RegisterView.as_view(), name="register"),
    path("auth/token/", TokenObtainPairView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/token/blacklist/", TokenBlacklistView.as_view(), name="token-blacklist"),
    re_path(r"^auth/me/?$", MeView.as_view(), name="me"),
    re_path(r"^me/settings/?$", PreferencesView.as_view(), name="me-settings"),
    re_path(r"^me/tokens/?$", AccessTokensView.as_view(), name="me-tokens"),
    re_path(r"^me/tokens/(?P<token_id>[0-9]+)/?$", AccessTokenView.as_view(), name="me-token"),
    re_path(r"^auth/web-login-link/?$", WebLoginLinkView.as_view(), name="web-login-link"),
]
