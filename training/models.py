"""Policy checkpoints (training runs arrive with the learning loop)."""
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
