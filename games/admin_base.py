"""Read-only admin: the ops console shows study data but never edits it.

Every change to study data goes through services (which keep the invariants and the audit trail);
the admin is for looking, filtering and exporting.
"""
from django.contrib import admin


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_per_page = 50


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True
