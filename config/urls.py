"""The root URLconf: it only includes. Each app owns its API routes (settings.API_URLCONFS), served at the root
(the paths the browser extension calls) and again under /api/v1/ (URL names there are namespaced "v1:")."""

from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# Staff sign in to the admin through the people's sign-in (/app/login/), with its rate limits and second factor.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

handler400 = "core.errors.handler400"
handler403 = "core.errors.handler403"
handler404 = "core.errors.handler404"
handler500 = "core.errors.handler500"

api_urlpatterns = [path("", include(urlconf)) for urlconf in settings.API_URLCONFS]

urlpatterns = [
    *api_urlpatterns,
    path("api/v1/", include((api_urlpatterns, "v1"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("admin/", admin.site.urls),
    path("dashboard/", include("dashboard.staff_urls")),
    path("app/", include("webapp.urls")),  # the person's own page (session sign-in), not API traffic
    path("app/", include("webapp.account_urls")),  # its sign-up, sign-in and account pages (django-allauth)
    path("", include("webapp.oauth_urls")),  # OAuth 2.1 for /mcp: metadata, consent (/app/oauth/), tokens
    path("", include("mcp_server.urls")),  # /mcp: the MCP endpoint (JSON-RPC over Streamable HTTP)
    path("", include("dashboard.probe_urls")),  # /health and /ready: not API traffic, not versioned
]
