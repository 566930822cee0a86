"""Memories in the Django admin: read, filter, search, re-prioritise, delete. Never add or edit text.

Text edits would leave the stored embeddings describing other words, and an admin-added memory would have none,
so both are refused; deletes go through ``memories.services`` like the API's, so a search index kept outside
PostgreSQL is cleaned in the same place. Embeddings are never shown.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from memories import services
from memories.models import Chunk, Memory


class ChunkInline(admin.TabularInline):
    model = Chunk
    fields = ("position", "text")
    readonly_fields = ("position", "text")
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Memory)
class MemoryAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "provider", "kind", "priority", "pinned", "created_at", "excerpt")
    list_filter = ("provider", "kind", "priority", "pinned", "created_at")
    list_select_related = ("user",)
    search_fields = ("text", "prompt", "user__username", "user__email", "=user__id")
    date_hierarchy = "created_at"
    fields = ("user", "kind", "provider", "priority", "pinned", "created_at", "prompt", "text", "content_hash")
    readonly_fields = ("user", "kind", "provider", "created_at", "prompt", "text", "content_hash")
    inlines = [ChunkInline]
    show_full_result_count = False  # a COUNT(*) over every memory on each page is not worth it

    @admin.display(description="text")
    def excerpt(self, memory: Memory) -> str:
        return memory.text if len(memory.text) <= 80 else memory.text[:79] + "…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Memory) -> None:
        services.memory_delete(user=obj.user, memory_id=obj.pk, space=None)  # staff: whichever space

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Memory]) -> None:
        for memory in queryset.select_related("user"):
            services.memory_delete(user=memory.user, memory_id=memory.pk, space=None)
