"""Staff HTML (Django session login), not part of the API: mounted at /dashboard/."""

from django.urls import path

from dashboard.views import staff_dashboard

app_name = "dashboard"

urlpatterns = [
    path("", staff_dashboard, name="index"),
]
