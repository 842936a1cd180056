from django.contrib import admin

from feedback.models import FeedbackLabel
from games.admin_base import ReadOnlyAdmin


@admin.register(FeedbackLabel)
class FeedbackLabelAdmin(ReadOnlyAdmin):
    list_display = ("turn", "decoder", "prompt_version", "label", "created_at")
    list_filter = ("decoder", "prompt_version", "label")
    search_fields = ("raw_output",)
    raw_id_fields = ("turn",)
