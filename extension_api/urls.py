"""The browser extension's server side: its adapters and its capture-health reports. Mounted at the root and under
/api/v1/."""

from django.urls import re_path

from extension_api.api.views import AdaptersView, HealthView

urlpatterns = [
    re_path(r"^extension/adapters/?$", AdaptersView.as_view(), name="extension-adapters"),
    re_path(r"^extension/health/?$", HealthView.as_view(), name="extension-health"),
]
