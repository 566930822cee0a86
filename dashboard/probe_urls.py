"""Liveness and readiness probes (no authentication): never counted as API traffic, not versioned."""

from django.urls import re_path

from dashboard import health

urlpatterns = [
    re_path(r"^health/?$", health.liveness, name="health"),
    re_path(r"^ready/?$", health.readiness, name="ready"),
]
