"""The study's records: images, game contexts, rounds, systems, participants, games and turns.

Invariants that must hold whatever code writes the rows are database constraints (checked by
PostgreSQL and SQLite alike); status changes go through compare-and-set updates in
``games.services.lifecycle`` so that two processes can never skip or repeat a step.
"""
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from games.domain import rules
from games.domain.study_settings import SettingsError, StudySettings

NAME_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
    "Use letters, digits, '.', '_' and '-' (starting with a letter or digit).",
)


class Split(models.TextChoices):
    DEV = "dev", "dev"
    TRAIN = "train", "train"
    TEST = "test", "test"


class TangramSource(models.TextChoices):
    GENERATED = "generated", "generated"
    KILOGRAM = "kilogram", "KILOGRAM import"


class Tangram(models.Model):
    """One tangram figure: its seven polygons, and the two renderings derived from them."""

    Source = TangramSource

    name = models.CharField(max_length=100, unique=True, validators=[NAME_VALIDATOR])
    source = models.CharField(max_length=16, choices=Source.choices)
    split = models.CharField(max_length=8, choices=Split.choices, db_index=True)
    polygons = models.JSONField(help_text="Seven polygons [[x, y], ...] in SVG coordinates.")
    svg = models.TextField(help_text="For people: dark silhouette with thin light seams.")
    png = models.BinaryField(help_text="For models: RGB PNG, 224 px.")
    seed = models.BigIntegerField(null=True, blank=True, help_text="Generator seed (generated figures).")
    source_file = models.CharField(max_length=255, blank=True, help_text="File it was imported from.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(split__in=Split.values), name="tangram_split_valid"),
            models.CheckConstraint(condition=Q(source__in=TangramSource.values), name="tangram_source_valid"),
            models.CheckConstraint(
                condition=~Q(source="generated") | Q(seed__isnull=False), name="tangram_generated_has_seed"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ConfigOrigin(models.TextChoices):
    GENERATED = "generated", "generated"
    IMPORTED = "imported", "imported (original study format)"


class ConfigSplit(models.TextChoices):
    DEV = "dev", "dev"
    TRAIN = "train", "train"
    TEST = "test", "test"
    MIXED = "mixed", "mixed (train and test)"


class GameConfig(models.Model):
    """A game context: 10 tangrams, the first ``num_targets`` of which are the targets, shown to
    the speaker and the listener in two independent screen orders."""

    Origin = ConfigOrigin

    ConfigSplit = ConfigSplit

    name = models.CharField(max_length=100, unique=True, validators=[NAME_VALIDATOR])
    split = models.CharField(max_length=8, choices=ConfigSplit.choices, db_index=True)
    origin = models.CharField(max_length=16, choices=Origin.choices)
    num_targets = models.PositiveSmallIntegerField()
    seed = models.BigIntegerField(null=True, blank=True)
    source_file = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    tangrams = models.ManyToManyField(Tangram, through="ContextImage", related_name="configs")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(num_targets__gte=rules.MIN_TARGETS, num_targets__lte=rules.MAX_TARGETS),
                name="config_num_targets_range",
            ),
            models.CheckConstraint(condition=Q(split__in=ConfigSplit.values), name="config_split_valid"),
            models.CheckConstraint(condition=Q(origin__in=ConfigOrigin.values), name="config_origin_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class ContextImage(models.Model):
    """One of the 10 images of a config, with its place in each role's screen order."""

    config = models.ForeignKey(GameConfig, on_delete=models.CASCADE, related_name="context_images")
    tangram = models.ForeignKey(Tangram, on_delete=models.PROTECT, related_name="context_images")
    index = models.PositiveSmallIntegerField(help_text="Position in the config's image list.")
    is_target = models.BooleanField()
    speaker_position = models.PositiveSmallIntegerField()
    listener_position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["config", "index"]
        constraints = [
            models.UniqueConstraint(fields=["config", "index"], name="context_image_unique_index"),
            models.UniqueConstraint(fields=["config", "tangram"], name="context_image_unique_tangram"),
            models.UniqueConstraint(fields=["config", "speaker_position"], name="context_image_unique_speaker_pos"),
            models.UniqueConstraint(
                fields=["config", "listener_position"], name="context_image_unique_listener_pos"
            ),
            models.CheckConstraint(
                condition=Q(index__lt=rules.CONTEXT_SIZE)
                & Q(speaker_position__lt=rules.CONTEXT_SIZE)
                & Q(listener_position__lt=rules.CONTEXT_SIZE),
                name="context_image_positions_in_range",
            ),
        ]


class RoundStatus(models.TextChoices):
    DRAFT = "draft", "draft"
    OPEN = "open", "open"
    CLOSED = "closed", "closed"
    DECODED = "decoded", "decoded"
    TRAINED = "trained", "trained"


class Round(models.Model):
    """One round of the learning loop: deploy, play, close, decode feedback, train."""

    Status = RoundStatus

    # The only allowed moves; anything else is refused by the lifecycle service.
    TRANSITIONS = {
        Status.DRAFT: (Status.OPEN,),
        Status.OPEN: (Status.CLOSED,),
        Status.CLOSED: (Status.DECODED,),
        Status.DECODED: (Status.TRAINED,),
        Status.TRAINED: (),
    }
    STATUS_TIMESTAMPS = {
        Status.OPEN: "opened_at",
        Status.CLOSED: "closed_at",
        Status.DECODED: "decoded_at",
        Status.TRAINED: "trained_at",
    }

    number = models.PositiveIntegerField(unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT, db_index=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    decoded_at = models.DateTimeField(null=True, blank=True)
    trained_at = models.DateTimeField(null=True, blank=True)
    settings = models.JSONField(
        default=dict, blank=True, help_text='Timing and pay: {"timing": {...}, "pay": {...}}; missing keys = defaults.'
    )
    configs = models.ManyToManyField(GameConfig, through="RoundConfig", related_name="rounds")

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RoundStatus.values), name="round_status_valid"),
            # Each status implies every earlier step happened: a row can never claim to be
            # "trained" without having been opened, closed and decoded.
            models.CheckConstraint(
                condition=Q(status="draft") | Q(opened_at__isnull=False), name="round_opened_at_set"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "open"]) | Q(closed_at__isnull=False),
                name="round_closed_at_set",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "open", "closed"]) | Q(decoded_at__isnull=False),
                name="round_decoded_at_set",
            ),
            models.CheckConstraint(
                condition=~Q(status="trained") | Q(trained_at__isnull=False), name="round_trained_at_set"
            ),
        ]

    def __str__(self) -> str:
        return f"Round {self.number} ({self.status})"

    def clean(self):
        try:
            StudySettings.from_dict(self.settings)
        except SettingsError as exc:
            raise ValidationError({"settings": str(exc)}) from None

    @property
    def study_settings(self) -> StudySettings:
        return StudySettings.from_dict(self.settings)


class RoundConfig(models.Model):
    """The round's shared config queue: every deployment walks its own shuffle of it."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="queue")
    config = models.ForeignKey(GameConfig, on_delete=models.PROTECT, related_name="round_entries")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["round", "position"]
        constraints = [
            models.UniqueConstraint(fields=["round", "position"], name="round_config_unique_position"),
            models.UniqueConstraint(fields=["round", "config"], name="round_config_unique_config"),
        ]


class SystemListenerKind(models.TextChoices):
    MODEL = "model", "model policy"
    HUMAN = "human", "human listener"
    RANDOM = "random", "random baseline"
    ORACLE = "oracle", "oracle baseline"


class SystemDecoder(models.TextChoices):
    NONE = "none", "none"
    BINARY = "binary", "prompted LLM, binary"
    TERNARY = "ternary", "prompted LLM, ternary"
    LEXICON = "lexicon", "lexicon"


class SystemObjective(models.TextChoices):
    NONE = "none", "none (redeploy)"
    SUP = "sup", "supervised on positives"
    RL = "rl", "REINFORCE"
    KTO = "kto", "KTO"
    FINAL_REWARD = "final_reward", "REINFORCE on the game's outcome (baseline, no decoding)"
    SEED_ONLY = "seed_only", "retrain on seed data only (baseline)"


# Objectives that read decoded feedback (the others need no decoder).
OBJECTIVES_NEEDING_FEEDBACK = (SystemObjective.SUP, SystemObjective.RL, SystemObjective.KTO)


class System(models.Model):
    """A named learning configuration (B-SUP, T-RL, B-KTO, CONTROL, HH, ...)."""

    ListenerKind = SystemListenerKind

    Decoder = SystemDecoder

    Objective = SystemObjective

    name = models.CharField(max_length=40, unique=True, validators=[NAME_VALIDATOR])
    description = models.TextField(blank=True)
    listener_kind = models.CharField(max_length=8, choices=ListenerKind.choices, default=ListenerKind.MODEL)
    decoder = models.CharField(max_length=8, choices=Decoder.choices, default=Decoder.NONE)
    objective = models.CharField(max_length=16, choices=Objective.choices, default=Objective.NONE)
    hyperparameters = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(listener_kind__in=SystemListenerKind.values), name="system_listener_kind_valid"
            ),
            models.CheckConstraint(condition=Q(decoder__in=SystemDecoder.values), name="system_decoder_valid"),
            models.CheckConstraint(condition=Q(objective__in=SystemObjective.values), name="system_objective_valid"),
            # Learning from feedback needs a decoder; the baselines and redeployment do not.
            models.CheckConstraint(
                condition=~Q(objective__in=OBJECTIVES_NEEDING_FEEDBACK) | ~Q(decoder="none"),
                name="system_objective_needs_decoder",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Deployment(models.Model):
    """A system deployed in a round with one policy checkpoint."""

    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="deployments")
    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="deployments")
    checkpoint = models.ForeignKey(
        "training.PolicyCheckpoint",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deployments",
        help_text="Required for model listeners; empty for human and baseline listeners.",
    )
    queue_seed = models.BigIntegerField(help_text="Seed of this deployment's shuffle of the round queue.")
    queue_cursor = models.PositiveIntegerField(default=0, help_text="Next position in its shuffled queue.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["round__number", "system__name"]
        constraints = [
            models.UniqueConstraint(fields=["round", "system"], name="deployment_unique_round_system"),
        ]

    def __str__(self) -> str:
        return f"{self.system.name} @ round {self.round.number}"


class ParticipantPlatform(models.TextChoices):
    MTURK = "mturk", "MTurk"
    PROLIFIC = "prolific", "Prolific"
    SIMULATED = "simulated", "simulated"
    STAFF = "staff", "staff"


class ParticipantStage(models.TextChoices):
    CONSENT = "consent", "consent"
    INSTRUCTIONS = "instructions", "instructions and practice"
    LOBBY = "lobby", "lobby"
    GAME = "game", "game"
    SURVEY = "survey", "exit survey"
    DONE = "done", "done"


class Participant(models.Model):
    """A person (or simulated person) who plays; external ids are stored only as keyed hashes."""

    Platform = ParticipantPlatform
    Stage = ParticipantStage

    platform = models.CharField(max_length=16, choices=Platform.choices)
    external_id_hash = models.CharField(max_length=64, help_text="Keyed hash of the worker id.")
    session_id_hash = models.CharField(max_length=64, blank=True, help_text="Keyed hash of the assignment/session.")
    browser_hash = models.CharField(
        max_length=64, blank=True,
        help_text="Keyed hash of the token of the browser session that holds this participant (set at entry).",
    )
    consented_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    survey = models.JSONField(default=dict, blank=True)
    bonus = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    completion_code = models.CharField(max_length=64, blank=True)
    stage = models.CharField(max_length=16, choices=ParticipantStage.choices, default=ParticipantStage.CONSENT)
    expert = models.BooleanField(default=False, help_text="Experts earn the expert pay multiplier.")
    practiced = models.BooleanField(default=False)
    study_ref = models.CharField(max_length=200, blank=True, help_text="HIT / study id from the entry link.")
    submit_url = models.URLField(blank=True, help_text="MTurk turkSubmitTo (validated host).")
    lobby_entered_at = models.DateTimeField(null=True, blank=True)
    lobby_left_at = models.DateTimeField(null=True, blank=True)
    waiting_for = models.ForeignKey(
        "Deployment", on_delete=models.SET_NULL, null=True, blank=True, related_name="waiting_participants",
        help_text="Human-human deployment this participant waits in, for a partner.",
    )
    end_note = models.CharField(max_length=300, blank=True, help_text="Why the study ended early, if it did.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "external_id_hash"], name="participant_unique_worker"),
            models.CheckConstraint(condition=Q(platform__in=ParticipantPlatform.values), name="participant_platform_valid"),
            models.CheckConstraint(condition=Q(bonus__gte=0), name="participant_bonus_non_negative"),
            models.CheckConstraint(condition=Q(stage__in=ParticipantStage.values), name="participant_stage_valid"),
            models.CheckConstraint(
                condition=~Q(stage="done") | ~Q(completion_code=""), name="participant_done_has_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.external_id_hash[:10]}"


class InteractionStatus(models.TextChoices):
    WAITING = "waiting", "waiting for players"
    PLAYING = "playing", "playing"
    ENDED = "ended", "ended"


class InteractionPurpose(models.TextChoices):
    STUDY = "study", "study"
    PRACTICE = "practice", "practice"
    SEED = "seed", "seed data"


class InteractionEndReason(models.TextChoices):
    SUCCESS = "success", "success"
    TURN_LIMIT = "turn_limit", "turn limit reached"
    SPEAKER_IDLE = "speaker_idle", "speaker idled"
    LISTENER_IDLE = "listener_idle", "listener idled"
    CANCELLED = "cancelled", "cancelled"


class PlayerRole(models.TextChoices):
    SPEAKER = "speaker", "speaker"
    LISTENER = "listener", "listener"


class InteractionPhase(models.TextChoices):
    SPEAKER = "speaker", "speaker writes"
    LISTENER = "listener", "listener chooses"
    ENDED = "ended", "ended"


class Interaction(models.Model):
    """One MultiRef game."""

    Phase = InteractionPhase

    Status = InteractionStatus

    Purpose = InteractionPurpose

    EndReason = InteractionEndReason

    Role = PlayerRole

    TRANSITIONS = {
        Status.WAITING: (Status.PLAYING, Status.ENDED),
        Status.PLAYING: (Status.ENDED,),
        Status.ENDED: (),
    }

    deployment = models.ForeignKey(
        Deployment, on_delete=models.PROTECT, null=True, blank=True, related_name="interactions"
    )
    purpose = models.CharField(max_length=8, choices=Purpose.choices, default=Purpose.STUDY)
    config = models.ForeignKey(GameConfig, on_delete=models.PROTECT, related_name="interactions")
    speaker = models.ForeignKey(
        Participant, on_delete=models.PROTECT, null=True, blank=True, related_name="interactions_as_speaker"
    )
    listener = models.ForeignKey(
        Participant,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="interactions_as_listener",
        help_text="Empty when the listener is a bot.",
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING, db_index=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True, db_index=True)
    turn_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    listener_kind = models.CharField(
        max_length=8, choices=SystemListenerKind.choices, default=SystemListenerKind.MODEL,
        help_text="Who listens: a model policy, a baseline bot, or a person.",
    )
    checkpoint = models.ForeignKey(
        "training.PolicyCheckpoint", on_delete=models.PROTECT, null=True, blank=True, related_name="interactions"
    )
    settings = models.JSONField(default=dict, blank=True, help_text="The round's timing and pay, frozen at creation.")
    # Live state of the current turn (the record of finished turns is the append-only Turn table).
    phase = models.CharField(max_length=8, choices=InteractionPhase.choices, default=InteractionPhase.SPEAKER)
    turn_started_at = models.DateTimeField(null=True, blank=True)
    phase_started_at = models.DateTimeField(null=True, blank=True)
    phase_deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    pending_utterance = models.TextField(blank=True)
    live_selection = models.JSONField(default=list, blank=True, help_text="Selection as the listener edits it.")
    listener_clicked = models.BooleanField(default=False)
    bot_attempt = models.PositiveSmallIntegerField(default=0)
    # A bot's decided answer for the current turn, waiting for its display time (the bot's minimum
    # delay): stored, so that a restart delivers it at once rather than waiting for the retry.
    held_action = models.JSONField(null=True, blank=True, help_text="Bot answer waiting for its display time.")
    held_action_at = models.DateTimeField(null=True, blank=True, db_index=True, help_text="When it is shown.")
    version = models.PositiveIntegerField(default=0, help_text="Bumped on every change; stale writers lose.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=InteractionStatus.values), name="interaction_status_valid"),
            models.CheckConstraint(
                condition=Q(end_reason="") | Q(end_reason__in=InteractionEndReason.values), name="interaction_end_reason_valid"
            ),
            models.CheckConstraint(condition=Q(purpose__in=InteractionPurpose.values), name="interaction_purpose_valid"),
            models.CheckConstraint(condition=Q(phase__in=InteractionPhase.values), name="interaction_phase_valid"),
            models.CheckConstraint(
                condition=Q(listener_kind__in=SystemListenerKind.values), name="interaction_listener_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(listener_kind="human") | Q(listener__isnull=False) | ~Q(status="playing"),
                name="interaction_human_listener_set",
            ),
            models.CheckConstraint(
                condition=Q(turn_count__lte=rules.MAX_TURNS), name="interaction_turn_count_range"
            ),
            # Ended exactly when it has an end time and a reason.
            models.CheckConstraint(
                condition=(Q(status="ended") & Q(ended_at__isnull=False) & ~Q(end_reason=""))
                | (~Q(status="ended") & Q(ended_at__isnull=True) & Q(end_reason="")),
                name="interaction_ended_consistent",
            ),
            models.CheckConstraint(
                condition=~Q(status="playing") | Q(started_at__isnull=False), name="interaction_playing_started"
            ),
            models.CheckConstraint(
                condition=~Q(end_reason="turn_limit") | Q(turn_count=rules.MAX_TURNS),
                name="interaction_turn_limit_at_max",
            ),
            models.CheckConstraint(
                condition=~Q(end_reason="success") | Q(turn_count__gte=1), name="interaction_success_has_turns"
            ),
            models.CheckConstraint(
                condition=Q(speaker__isnull=True) | Q(listener__isnull=True) | ~Q(speaker=models.F("listener")),
                name="interaction_distinct_players",
            ),
        ]

    def __str__(self) -> str:
        return f"Interaction {self.pk} ({self.status})"

    @property
    def succeeded(self) -> bool:
        return self.end_reason == self.EndReason.SUCCESS

    @property
    def study_settings(self) -> StudySettings:
        """The round's timing and pay as frozen into this game."""
        return StudySettings.from_dict(self.settings)

    def role_of(self, participant_id: int | None) -> str | None:
        """``Role.SPEAKER`` / ``Role.LISTENER`` for a player of this game, else None."""
        if participant_id is None:
            return None
        if self.speaker_id == participant_id:
            return PlayerRole.SPEAKER
        if self.listener_id == participant_id:
            return PlayerRole.LISTENER
        return None

    @property
    def committed_selection(self) -> frozenset[str]:
        """The selection after the last recorded turn (what the listener's next turn starts from)."""
        last = self.turns.order_by("-index").first()
        return frozenset(last.selection_after) if last else frozenset()


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete a recorded turn."""


class TurnQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Turns are append-only: recorded turns cannot be updated")

    def delete(self):
        raise AppendOnlyError("Turns are append-only: recorded turns cannot be deleted")


class TurnActionSource(models.TextChoices):
    HUMAN = "human", "human listener"
    MODEL = "model", "model output"
    CLEANED = "cleaned", "model output, inconsistent toggles dropped"
    FALLBACK = "fallback", "fallback (invalid or empty model output)"
    ERROR = "error", "fallback (model error)"
    TIMEOUT = "timeout", "fallback (deadline passed)"
    BASELINE = "baseline", "baseline listener (random / oracle)"
    SIMULATED = "simulated", "simulated listener"


class Turn(models.Model):
    """One completed turn: the speaker's message and the listener's action. Append-only.

    Image ids are tangram names; selections are stored sorted. ``action_probability`` is the
    probability of the sampled action, or one of the sentinels below.
    """

    ActionSource = TurnActionSource

    PROBABILITY_FALLBACK = rules.PROBABILITY_FALLBACK
    PROBABILITY_ERROR = rules.PROBABILITY_ERROR
    PROBABILITY_NOT_COMPUTED = rules.PROBABILITY_NOT_COMPUTED
    PROBABILITY_SENTINELS = rules.PROBABILITY_SENTINELS

    interaction = models.ForeignKey(Interaction, on_delete=models.PROTECT, related_name="turns")
    index = models.PositiveSmallIntegerField(help_text="0-based turn number.")
    utterance = models.TextField()
    selection_before = models.JSONField(default=list)
    selected = models.JSONField(default=list, help_text="Images toggled on this turn.")
    deselected = models.JSONField(default=list, help_text="Images toggled off this turn.")
    selection_after = models.JSONField(default=list)
    action_source = models.CharField(max_length=10, choices=ActionSource.choices)
    raw_output = models.TextField(blank=True, help_text="Raw model output (models only).")
    action_probability = models.FloatField(null=True, blank=True)
    checkpoint = models.ForeignKey(
        "training.PolicyCheckpoint", on_delete=models.PROTECT, null=True, blank=True, related_name="turns"
    )
    speaker_seconds = models.FloatField(null=True, blank=True, help_text="Turn start until the message was sent.")
    listener_seconds = models.FloatField(null=True, blank=True, help_text="Message sent until the listener submitted.")
    model_latency_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TurnQuerySet.as_manager()

    class Meta:
        ordering = ["interaction", "index"]
        constraints = [
            models.UniqueConstraint(fields=["interaction", "index"], name="turn_unique_index"),
            models.CheckConstraint(condition=Q(index__lt=rules.MAX_TURNS), name="turn_index_range"),
            models.CheckConstraint(condition=Q(action_source__in=TurnActionSource.values), name="turn_source_valid"),
            models.CheckConstraint(
                condition=Q(action_probability__isnull=True)
                | Q(action_probability__gte=0, action_probability__lte=1)
                | Q(action_probability__in=list(rules.PROBABILITY_SENTINELS)),
                name="turn_probability_valid",
            ),
            models.CheckConstraint(
                condition=(Q(speaker_seconds__isnull=True) | Q(speaker_seconds__gte=0))
                & (Q(listener_seconds__isnull=True) | Q(listener_seconds__gte=0))
                & (Q(model_latency_seconds__isnull=True) | Q(model_latency_seconds__gte=0)),
                name="turn_timings_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"Turn {self.index} of interaction {self.interaction_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Turns are append-only: recorded turns cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Turns are append-only: recorded turns cannot be deleted")

    def clean(self):
        overlap = set(self.selected) & set(self.deselected)
        if overlap:
            raise ValidationError(f"Images both selected and deselected: {sorted(overlap)}")


class SpeakerIntentFeedback(models.TextChoices):
    POSITIVE = "positive", "positive"
    NEUTRAL = "neutral", "neutral"
    NEGATIVE = "negative", "negative"
    NONE = "none", "none (first turn: nothing to react to)"


class SpeakerIntent(models.Model):
    """What a simulated speaker meant with the utterance of turn ``turn_index`` (ground truth).

    ``feedback`` is the polarity it intended towards the listener's *previous* action (turn
    ``turn_index - 1``), ``previous_action_quality`` that action's true quality (rules.ActionQuality
    name, or empty on the first turn), ``move`` the kind of reaction (approve_next, correct, undo, ...),
    ``target`` the tangram it was describing. Written by the simulation drivers only; people have none.
    """

    Feedback = SpeakerIntentFeedback

    interaction = models.ForeignKey(Interaction, on_delete=models.CASCADE, related_name="speaker_intents")
    turn_index = models.PositiveSmallIntegerField()
    feedback = models.CharField(max_length=8, choices=Feedback.choices)
    previous_action_quality = models.CharField(max_length=8, blank=True)
    move = models.CharField(max_length=32)
    target = models.CharField(max_length=100, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["interaction", "turn_index"]
        constraints = [
            models.UniqueConstraint(fields=["interaction", "turn_index"], name="speaker_intent_unique_turn"),
            models.CheckConstraint(condition=Q(feedback__in=SpeakerIntentFeedback.values), name="speaker_intent_feedback_valid"),
        ]

    def __str__(self) -> str:
        return f"Intent of turn {self.turn_index} of interaction {self.interaction_id}: {self.feedback} ({self.move})"


class ServerHeartbeat(models.Model):
    """The last time a web process said it was up (every second, ``games.services.uptime``). A gap is a
    server outage: deadlines of games in play are extended by it, never run out because of it."""

    name = models.CharField(max_length=32, unique=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} beat at {self.beat_at:%Y-%m-%d %H:%M:%S}"
