from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import User


@admin.register(User)
class TradePlatformUserAdmin(UserAdmin):
    list_display = ("username", "email", "display_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active", "is_staff", "is_superuser")
    search_fields = ("username", "email", "display_name")
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Platform", {"fields": ("display_name", "role")}),
    )
