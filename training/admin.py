from django.contrib import admin

from games.admin_base import ReadOnlyAdmin
from training.models import PolicyCheckpoint


@admin.register(PolicyCheckpoint)
class PolicyCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["name", "base_model", "adapter_path", "round", "system", "objective", "created_at"]
    list_filter = ["round", "system", "objective"]
    search_fields = ["name", "base_model", "adapter_path"]
