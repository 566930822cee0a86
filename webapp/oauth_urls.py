"""OAuth 2.1 for /mcp (docs/oauth.md): every route of the authorization server, in django-oauth-toolkit's URL
namespace (its metadata view finds the endpoints by these names). Mounted at the root by config.urls: the
well-known documents must sit at the origin (RFC 8414, RFC 9728); the consent page is under /app/."""

from django.urls import path
from oauth2_provider import views as dot

from accounts import oauth
from webapp.http import personal
from webapp.oauth_views import ConsentView

app_name = "oauth2_provider"

urlpatterns = [
    path(".well-known/oauth-authorization-server", dot.OAuthServerMetadataView.as_view(), name="oauth-server-metadata"),
    path(
        ".well-known/oauth-protected-resource",
        oauth.ProtectedResourceMetadataView.as_view(),
        name="oauth-resource-metadata",
    ),
    # RFC 9728 §3.1: the document of the resource https://host/mcp is /.well-known/oauth-protected-resource/mcp.
    path(
        ".well-known/oauth-protected-resource/mcp",
        oauth.ProtectedResourceMetadataView.as_view(),
        name="oauth-resource-metadata-mcp",
    ),
    path("app/oauth/authorize/", personal(ConsentView.as_view()), name="authorize"),
    path("oauth/token/", dot.TokenView.as_view(), name="token"),
    path("oauth/revoke/", dot.RevokeTokenView.as_view(), name="revoke-token"),
    path("oauth/register/", oauth.RegistrationView.as_view(), name="dcr-register"),
    path("oauth/register/<str:client_id>/", oauth.RegistrationManagementView.as_view(), name="dcr-register-management"),
]
