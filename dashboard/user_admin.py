"""Staff admin of people (accounts.User): tiers, usage, and the export/purge actions that reach into memories.

It lives in the top app because it touches accounts, memories and dashboard at once."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count, IntegerField, Max, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import DailyUsage, PersonalAccessToken, User
from core.dates import utc_today
from dashboard.models import UserActivity
from memories import services
from memories.transfer import importers


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Staff change a user's tier here (or with ``manage.py set_tier``); no API request can."""

    list_display = (
        "username",
        "email",
        "tier",
        "memory_count",
        "usage_today",
        "last_active",
        "is_staff",
        "date_joined",
    )
    list_editable = ("tier",)
    list_filter = ("tier", "is_staff", "is_active")
    search_fields = ("username", "email", "id")
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Subscription", {"fields": ("tier",)}))
    actions = ["export_memories", "purge_memories"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        usage = DailyUsage.objects.filter(user=OuterRef("pk"), day=utc_today()).values("count")[:1]
        seen = (
            UserActivity.objects.filter(user=OuterRef("pk"))
            .values("user")
            .annotate(last=Max("last_seen"))
            .values("last")[:1]
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                _memory_count=Count("memories", distinct=True),
                _usage_today=Subquery(usage, output_field=IntegerField()),
                _last_active=Subquery(seen),
            )
        )

    @admin.display(description="memories", ordering="_memory_count")
    def memory_count(self, user: Any) -> int:
        return int(user._memory_count)

    @admin.display(description="quota used today (UTC)", ordering="_usage_today")
    def usage_today(self, user: Any) -> int:
        return int(user._usage_today or 0)

    @admin.display(description="last active", ordering="_last_active")
    def last_active(self, user: Any) -> Any:
        return user._last_active or user.last_login

    @admin.action(description="Export the selected user's memories as JSON")
    def export_memories(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponseBase | None:
        users = list(queryset[:2])
        if len(users) != 1:
            self.message_user(request, "Select exactly one user to export.", messages.WARNING)
            return None
        user = users[0]
        response = StreamingHttpResponse(
            (piece.encode() for piece in importers.export_json(user=user, space=None)),
            content_type="application/json; charset=utf-8",
        )
        name = f"memories-{user.pk}-{timezone.now():%Y%m%d}.json"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        self.log_change(request, user, "Exported memories as JSON")
        return response

    @admin.action(description="Purge (permanently delete) the selected users' memories")
    def purge_memories(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        users = list(queryset.order_by("username"))
        if request.POST.get("confirm") == "yes":
            total = 0
            for user in users:
                deleted = services.memory_delete_all(user=user, space=None)
                total += deleted
                self.log_change(request, user, f"Purged {deleted} memories")
            self.message_user(request, f"Deleted {total} memories of {len(users)} user(s).", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Purge memories: are you sure?",
            "opts": self.model._meta,
            "users": [(user, user.memories.count()) for user in users],
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/accounts/user/purge_memories.html", context)

    # Staff deleting a user delete the whole account, the way the person would (memories.services.account_delete):
    # Django's own delete would leave their sessions, refresh tokens and search-index entries behind.
    def delete_model(self, request: HttpRequest, obj: User) -> None:
        services.account_delete(user=obj, via="staff")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.account_delete(user=user, via="staff")


@admin.register(DailyUsage)
class DailyUsageAdmin(admin.ModelAdmin):
    """Read-only: the counter is written only by the quota's atomic upsert."""

    list_display = ("user", "day", "count")
    list_filter = ("day",)
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email", "user__id")
    date_hierarchy = "day"
    readonly_fields = ("user", "day", "count")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(admin.ModelAdmin):
    """People's personal access tokens: listed and revoked, never made or changed here. The hash is not shown."""

    list_display = ("prefix", "name", "user", "scope", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email", "=user__id", "prefix", "name")
    date_hierarchy = "created_at"
    fields = ("user", "name", "scope", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens (refused from the next request on)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[PersonalAccessToken]) -> None:
        tokens = list(queryset.filter(revoked_at__isnull=True).select_related("user"))
        for token in tokens:
            account_services.access_token_revoke(user=token.user, token_id=token.pk)
        self.message_user(request, f"Revoked {len(tokens)} token(s).", messages.SUCCESS)
