"""Policy checkpoints and the training runs that make them."""
from django.db import models
from django.db.models import Q


class PolicyCheckpoint(models.Model):
    """A listener policy: a base model (local path) plus an optional LoRA adapter."""

    name = models.CharField(max_length=100, unique=True)
    base_model = models.CharField(max_length=500, help_text="Local path (or registry key) of the base model.")
    adapter_path = models.CharField(max_length=500, blank=True, help_text="LoRA adapter folder; empty = base only.")
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    round = models.ForeignKey(
        "games.Round", on_delete=models.PROTECT, null=True, blank=True, related_name="checkpoints",
        help_text="The round whose data trained it (empty for the initial policy).",
    )
    system = models.ForeignKey(
        "games.System", on_delete=models.PROTECT, null=True, blank=True, related_name="checkpoints"
    )
    objective = models.CharField(max_length=16, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(base_model=""), name="checkpoint_base_model_set"),
            models.CheckConstraint(
                condition=Q(parent__isnull=True) | ~Q(parent=models.F("id")), name="checkpoint_not_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TrainingRunStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"


class TrainingRun(models.Model):
    """One system's retraining after one round: D≤round with the system's objective, a fresh LoRA from
    the initial policy (by default). One run per (system, round); a failed or dead run is run again in
    place, and a new checkpoint is registered only when a run succeeds."""

    Status = TrainingRunStatus

    system = models.ForeignKey("games.System", on_delete=models.PROTECT, related_name="training_runs")
    round = models.ForeignKey("games.Round", on_delete=models.PROTECT, related_name="training_runs")
    objective = models.CharField(max_length=16)
    initial_checkpoint = models.ForeignKey(
        PolicyCheckpoint, on_delete=models.PROTECT, related_name="runs_started_from",
        help_text="The initial policy: its base model gets the fresh adapter; its seed data is trained again.",
    )
    continue_from = models.ForeignKey(
        PolicyCheckpoint, on_delete=models.PROTECT, null=True, blank=True, related_name="runs_continued",
        help_text="Start from this adapter instead of a fresh LoRA (option).",
    )
    hyperparameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    progress = models.FloatField(default=0.0, help_text="Share of training steps done (0..1).")
    loss_curve = models.JSONField(default=list, blank=True, help_text="[step, mean loss] pairs.")
    held_out_curve = models.JSONField(default=list, blank=True, help_text="[step, held-out score] pairs.")
    dataset_stats = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the process running it.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    checkpoint = models.OneToOneField(
        PolicyCheckpoint, on_delete=models.PROTECT, null=True, blank=True, related_name="training_run",
        help_text="The checkpoint this run registered (only when it succeeded).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["round__number", "system__name"]
        constraints = [
            models.UniqueConstraint(fields=["system", "round"], name="training_run_once_per_round"),
            models.CheckConstraint(condition=Q(status__in=TrainingRunStatus.values), name="training_run_status_valid"),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | Q(checkpoint__isnull=False), name="training_run_success_has_checkpoint"
            ),
            models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1), name="training_run_progress_range"),
        ]

    def __str__(self) -> str:
        return f"{self.system} after round {self.round.number} ({self.status})"


class StudyExportStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"


class StudyExportFormat(models.TextChoices):
    JSONL = "jsonl", "JSON lines"
    PARQUET = "parquet", "Parquet"


class StudyExport(models.Model):
    """One export of the study's tables to a folder (``export_study``; training.services.study_export),
    with its progress as it runs."""

    Status = StudyExportStatus
    Format = StudyExportFormat

    path = models.CharField(max_length=1000, help_text="The folder written (on the machine that runs the export).")
    format = models.CharField(max_length=8, choices=Format.choices)
    round_number = models.PositiveIntegerField(null=True, blank=True, help_text="Only this round's play data.")
    alias = models.CharField(max_length=100, help_text="dataset_alias written on every row.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0, help_text="Share of rows written (0..1).")
    rows_done = models.PositiveBigIntegerField(default=0)
    rows_total = models.PositiveBigIntegerField(default=0)
    current_table = models.CharField(max_length=40, blank=True)
    counts = models.JSONField(default=dict, blank=True, help_text="Rows per table.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=StudyExportStatus.values), name="study_export_status_valid"),
            models.CheckConstraint(condition=Q(format__in=StudyExportFormat.values), name="study_export_format_valid"),
            models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1), name="study_export_progress_range"),
        ]

    def __str__(self) -> str:
        scope = f"round {self.round_number}" if self.round_number is not None else "whole study"
        return f"Export {self.pk} ({self.format}, {scope}, {self.status})"
