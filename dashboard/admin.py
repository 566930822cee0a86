from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from accounts.models import AccountDeletion
from dashboard import user_admin  # noqa: F401  (registers accounts.User with the staff actions)
from dashboard.models import RequestMetric, UserActivity
from memories.services import account_user_ref

# The admin's "View site" link leads to the staff dashboard (the service has no public site).
admin.site.site_url = "/dashboard/"
admin.site.site_header = "Memory Layer administration"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Aggregates written only by the metrics middleware's upserts."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(RequestMetric)
class RequestMetricAdmin(ReadOnlyAdmin):
    list_display = ("hour", "method", "endpoint", "status_class", "count", "total_ms")
    list_filter = ("status_class", "method", "endpoint")
    date_hierarchy = "hour"


@admin.register(UserActivity)
class UserActivityAdmin(ReadOnlyAdmin):
    list_display = ("day", "user", "requests", "context_calls", "last_seen")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email", "=user__id")
    date_hierarchy = "day"


@admin.register(AccountDeletion)
class AccountDeletionAdmin(ReadOnlyAdmin):
    """That accounts were deleted, and when (memories.services.account_delete writes the rows): never by whom by
    name, never what they held. Paste an account's id into the search to check whether it was deleted."""

    list_display = ("deleted_at", "user_ref", "via")
    list_filter = ("via",)
    date_hierarchy = "deleted_at"
    search_fields = ("=user_ref",)

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):  # type: ignore[no-untyped-def]
        if search_term.strip():
            return queryset.filter(user_ref__in=[search_term.strip(), account_user_ref(search_term.strip())]), False
        return queryset, False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
