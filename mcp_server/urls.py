"""/mcp, mounted by config.urls at the root only (MCP clients are given one URL; it is not a REST API route)."""

from django.urls import re_path

from mcp_server.views import McpView

urlpatterns = [
    re_path(r"^mcp/?$", McpView.as_view(), name="mcp"),
]
