"""Decoded feedback labels (post-hoc human annotations arrive with the annotation issue)."""
from django.db import models
from django.db.models import Q


class FeedbackLabelValue(models.TextChoices):
    POSITIVE = "positive", "positive"
    NEUTRAL = "neutral", "neutral"
    NEGATIVE = "negative", "negative"
    UNPARSED = "unparsed", "unparsed (decoder output not recognised; never trained on)"


class LabelQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise LabelOverwriteError("Feedback labels are never overwritten: decode with a new prompt version instead")


class LabelOverwriteError(Exception):
    """Raised on any attempt to change a stored label."""


class FeedbackLabel(models.Model):
    """What one decoder (name + prompt version) read from the speaker's next message about the
    listener's action at ``turn``. One label per (turn, decoder, version); never overwritten: a new
    prompt or rule version is a new label set beside the old one."""

    Value = FeedbackLabelValue

    turn = models.ForeignKey("games.Turn", on_delete=models.PROTECT, related_name="feedback_labels")
    decoder = models.CharField(max_length=40, db_index=True, help_text="Decoder name, e.g. binary, ternary, lexicon.")
    prompt_version = models.CharField(max_length=40, help_text="Prompt (or lexicon rules) version.")
    label = models.CharField(max_length=10, choices=Value.choices)
    raw_output = models.TextField(blank=True, help_text="The model's text, or the lexicon's rule trace.")
    details = models.JSONField(default=dict, blank=True, help_text="Model, truncation, mapping notes.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabelQuerySet.as_manager()

    class Meta:
        ordering = ["turn", "decoder", "prompt_version"]
        constraints = [
            models.UniqueConstraint(fields=["turn", "decoder", "prompt_version"], name="feedback_label_unique"),
            models.CheckConstraint(condition=Q(label__in=FeedbackLabelValue.values), name="feedback_label_valid"),
            models.CheckConstraint(condition=~Q(decoder="") & ~Q(prompt_version=""), name="feedback_label_named"),
        ]
        indexes = [models.Index(fields=["decoder", "prompt_version"], name="feedback_label_set")]

    def __str__(self) -> str:
        return f"{self.label} on turn {self.turn_id} ({self.decoder} {self.prompt_version})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise LabelOverwriteError("Feedback labels are never overwritten: decode with a new prompt version instead")
        super().save(*args, **kwargs)
