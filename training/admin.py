from django.contrib import admin
from django.utils.html import format_html

from games.admin_base import ReadOnlyAdmin
from training.models import PolicyCheckpoint, StudyExport, TrainingRun


@admin.register(PolicyCheckpoint)
class PolicyCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["name", "base_model", "adapter_path", "round", "system", "objective", "created_at"]
    list_filter = ["round", "system", "objective"]
    search_fields = ["name", "base_model", "adapter_path"]


@admin.register(TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin):
    """Training runs as they happen: status, progress, the last loss, the log (reload to follow)."""

    list_display = ["__str__", "objective", "status", "progress_bar", "last_loss", "attempts", "worker",
                    "checkpoint", "seconds", "heartbeat_at"]
    list_filter = ["status", "objective", "round", "system"]
    readonly_fields = ["progress_bar", "last_loss"]

    @admin.display(description="progress")
    def progress_bar(self, run: TrainingRun) -> str:
        percent = round(100 * run.progress)
        return format_html('<progress max="100" value="{}"></progress> {}%', percent, percent)

    @admin.display(description="loss")
    def last_loss(self, run: TrainingRun):
        return run.loss_curve[-1][1] if run.loss_curve else None


@admin.register(StudyExport)
class StudyExportAdmin(ReadOnlyAdmin):
    """Study exports as they run: status, progress, the table being written (reload to follow)."""

    list_display = ["__str__", "status", "progress_bar", "current_table", "rows_done", "rows_total", "path",
                    "seconds", "created_at"]
    list_filter = ["status", "format"]
    readonly_fields = ["progress_bar"]

    @admin.display(description="progress")
    def progress_bar(self, export: StudyExport) -> str:
        percent = round(100 * export.progress)
        return format_html('<progress max="100" value="{}"></progress> {}%', percent, percent)
