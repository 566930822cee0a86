from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest

from accounts.models import DailyUsage, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Staff change a user's tier here (or with ``manage.py set_tier``); no API request can."""

    list_display = ("username", "email", "tier", "is_staff", "date_joined", "last_login")
    list_filter = ("tier", "is_staff", "is_active")
    search_fields = ("username", "email", "id")
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Subscription", {"fields": ("tier",)}))


@admin.register(DailyUsage)
class DailyUsageAdmin(admin.ModelAdmin):
    """Read-only: the counter is written only by the quota's atomic upsert."""

    list_display = ("user", "day", "count")
    list_filter = ("day",)
    search_fields = ("user__username", "user__email", "user__id")
    date_hierarchy = "day"
    readonly_fields = ("user", "day", "count")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
