"""The dashboard's JSON API (the admin statistics). Mounted at the root and under /api/v1/."""

from django.urls import re_path

from dashboard.api.views import AdminDashboardView

urlpatterns = [
    # At the root this must come before admin.site.urls, which owns /admin/ (config.urls mounts the API first).
    re_path(r"^admin/dashboard/?$", AdminDashboardView.as_view(), name="admin-dashboard"),
]
