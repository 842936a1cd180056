"""Decoded feedback labels, and post-hoc human annotation of turns (campaigns, annotations, final labels)."""
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


# ----------------------------------------------------------------------------- post-hoc human annotation


class AnnotationFeedback(models.TextChoices):
    """What the annotator reads in the speaker's next message about the listener's action."""

    POSITIVE = "positive", "positive"
    NEUTRAL = "neutral", "neutral"
    NEGATIVE = "negative", "negative"


class ActionCorrectness(models.TextChoices):
    """Was the listener's action what the speaker's message asked for (the study's exact match = yes)."""

    YES = "yes", "yes, exactly"
    PARTIAL = "partial", "partly"
    NO = "no", "no"


class SatisfactionFlag(models.TextChoices):
    """The study's satisfaction-type annotations: the speaker sounds satisfied although the action was
    wrong, or only partly right."""

    INCORRECT_SATISFACTION = "incorrect_satisfaction", "speaker satisfied with an incorrect action"
    PARTIAL_SATISFACTION = "partial_satisfaction", "speaker satisfied with a partly correct action"


class CampaignStatus(models.TextChoices):
    OPEN = "open", "open"
    CLOSED = "closed", "closed"


class AnnotationCampaign(models.Model):
    """A batch of turns to annotate: a stratified sample of the model-listener turns of some rounds and
    systems, each turn served to ``annotators_per_turn`` different annotators."""

    Status = CampaignStatus

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    round_numbers = models.JSONField(default=list, help_text="Rounds sampled from (empty: all).")
    systems = models.ManyToManyField("games.System", blank=True, related_name="annotation_campaigns",
                                     help_text="Systems sampled from (none: all).")
    sample_size = models.PositiveIntegerField(help_text="Turns in the sample (fewer if fewer exist).")
    annotators_per_turn = models.PositiveSmallIntegerField(default=1, help_text="Overlap, for agreement.")
    seed = models.BigIntegerField(default=0, help_text="Seed of the stratified sample and its serving order.")
    claim_minutes = models.PositiveSmallIntegerField(
        default=30, help_text="A served turn not submitted within this time is offered to someone else."
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN, db_index=True)
    created_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(annotators_per_turn__gte=1), name="campaign_overlap_positive"),
            models.CheckConstraint(condition=Q(sample_size__gte=1), name="campaign_sample_positive"),
            models.CheckConstraint(condition=Q(status__in=CampaignStatus.values), name="campaign_status_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class FinalLabelSource(models.TextChoices):
    AGREEMENT = "agreement", "annotators agreed"
    ADJUDICATED = "adjudicated", "adjudicated by staff"
    IMPORTED = "imported", "imported with a study"


class CampaignTurn(models.Model):
    """One turn of a campaign's sample, in serving order, with its final (agreed or adjudicated) label."""

    FinalSource = FinalLabelSource

    campaign = models.ForeignKey(AnnotationCampaign, on_delete=models.CASCADE, related_name="sample")
    turn = models.ForeignKey("games.Turn", on_delete=models.PROTECT, related_name="campaign_entries")
    position = models.PositiveIntegerField(help_text="Serving order within the campaign.")
    stratum = models.CharField(max_length=80, help_text="round:system the turn was drawn from.")
    final_feedback = models.CharField(max_length=8, choices=AnnotationFeedback.choices, blank=True)
    final_correctness = models.CharField(max_length=8, choices=ActionCorrectness.choices, blank=True)
    final_gold_selected = models.JSONField(null=True, blank=True)
    final_gold_deselected = models.JSONField(null=True, blank=True)
    final_source = models.CharField(max_length=12, choices=FinalSource.choices, blank=True)
    adjudicated_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="+")
    adjudicated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "turn"], name="campaign_turn_unique"),
            models.UniqueConstraint(fields=["campaign", "position"], name="campaign_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} #{self.position} (turn {self.turn_id})"


class AnnotationStatus(models.TextChoices):
    CLAIMED = "claimed", "served, not yet submitted"
    DONE = "done", "submitted"
    SKIPPED = "skipped", "skipped by the annotator"


class Annotation(models.Model):
    """One annotator's judgement of one turn of a campaign. Created when the turn is served (a claim),
    filled in when submitted. Annotators never see any decoder's label (blind)."""

    Feedback = AnnotationFeedback
    Correctness = ActionCorrectness
    Flag = SatisfactionFlag
    Status = AnnotationStatus

    entry = models.ForeignKey(CampaignTurn, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey("auth.User", on_delete=models.PROTECT, related_name="annotations")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.CLAIMED, db_index=True)
    feedback = models.CharField(max_length=8, choices=AnnotationFeedback.choices, blank=True)
    correctness = models.CharField(max_length=8, choices=ActionCorrectness.choices, blank=True)
    flags = models.JSONField(default=list, blank=True, help_text="Satisfaction-type flags.")
    gold_selected = models.JSONField(null=True, blank=True, help_text="Images the annotator would have selected.")
    gold_deselected = models.JSONField(null=True, blank=True,
                                       help_text="Images the annotator would have deselected.")
    note = models.TextField(blank=True)
    claimed_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["entry", "annotator"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "annotator"], name="annotation_once_per_annotator"),
            models.CheckConstraint(condition=Q(status__in=AnnotationStatus.values), name="annotation_status_valid"),
            models.CheckConstraint(
                condition=~Q(status="done") | (~Q(feedback="") & ~Q(correctness="") & Q(submitted_at__isnull=False)),
                name="annotation_done_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} on {self.entry} ({self.status})"
