from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "tier", "is_staff", "date_joined", "last_login")
    list_filter = ("tier", "is_staff", "is_active")
    search_fields = ("username", "email", "id")
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Subscription", {"fields": ("tier",)}))
