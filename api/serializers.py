"""What the API shows of each row. Participants appear only as internal ids (never a worker id or any
hash of one); annotators' views of a turn never carry a decoder's label."""
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from feedback.models import Annotation, AnnotationCampaign, FeedbackLabel
from games.models import Deployment, Interaction, Round, System, Turn
from training.models import PolicyCheckpoint, TrainingRun


class RoundSerializer(serializers.ModelSerializer):
    deployment_count = serializers.IntegerField(read_only=True)
    queue_size = serializers.IntegerField(read_only=True)

    class Meta:
        model = Round
        fields = ["id", "number", "status", "notes", "settings", "queue_size", "deployment_count", "created_at",
                  "opened_at", "closed_at", "decoded_at", "trained_at"]


class SystemSerializer(serializers.ModelSerializer):
    class Meta:
        model = System
        fields = ["id", "name", "description", "listener_kind", "decoder", "objective", "hyperparameters", "created_at"]


class DeploymentSerializer(serializers.ModelSerializer):
    round = serializers.IntegerField(source="round.number", read_only=True)
    system = serializers.CharField(source="system.name", read_only=True)
    game_count = serializers.IntegerField(read_only=True, help_text="Study games dealt to this deployment.")

    class Meta:
        model = Deployment
        fields = ["id", "round", "system", "checkpoint", "queue_seed", "queue_cursor", "game_count", "created_at"]


class CheckpointSerializer(serializers.ModelSerializer):
    round = serializers.IntegerField(source="round.number", read_only=True, allow_null=True, default=None)
    system = serializers.CharField(source="system.name", read_only=True, allow_null=True, default=None)

    class Meta:
        model = PolicyCheckpoint
        fields = ["id", "name", "base_model", "adapter_path", "parent", "round", "system", "objective", "metrics",
                  "created_at"]


class TrainingRunSerializer(serializers.ModelSerializer):
    round = serializers.IntegerField(source="round.number", read_only=True)
    system = serializers.CharField(source="system.name", read_only=True)

    class Meta:
        model = TrainingRun
        fields = ["id", "round", "system", "objective", "status", "attempts", "progress", "initial_checkpoint",
                  "continue_from", "checkpoint", "hyperparameters", "dataset_stats", "metrics", "loss_curve",
                  "held_out_curve", "log", "traceback", "worker", "heartbeat_at", "created_at", "started_at",
                  "finished_at", "seconds"]


class TurnSerializer(serializers.ModelSerializer):
    class Meta:
        model = Turn
        fields = ["id", "index", "utterance", "selection_before", "selected", "deselected", "selection_after",
                  "action_source", "raw_output", "action_probability", "checkpoint", "speaker_seconds",
                  "listener_seconds", "model_latency_seconds", "created_at"]


class InteractionSerializer(serializers.ModelSerializer):
    round = serializers.IntegerField(source="deployment.round.number", read_only=True, allow_null=True, default=None)
    system = serializers.CharField(source="deployment.system.name", read_only=True, allow_null=True, default=None)
    config = serializers.CharField(source="config.name", read_only=True)
    speaker = serializers.IntegerField(source="speaker_id", read_only=True, allow_null=True,
                                       help_text="Internal participant id (no worker id is ever shown).")
    listener = serializers.IntegerField(source="listener_id", read_only=True, allow_null=True,
                                        help_text="Internal participant id; null for a bot listener.")
    turns = TurnSerializer(many=True, read_only=True)

    class Meta:
        model = Interaction
        fields = ["id", "round", "system", "deployment", "purpose", "config", "listener_kind", "checkpoint",
                  "speaker", "listener", "status", "end_reason", "turn_count", "settings", "created_at",
                  "started_at", "ended_at", "turns"]


class FeedbackLabelSerializer(serializers.ModelSerializer):
    interaction = serializers.IntegerField(source="turn.interaction_id", read_only=True)
    turn_index = serializers.IntegerField(source="turn.index", read_only=True)

    class Meta:
        model = FeedbackLabel
        fields = ["id", "turn", "interaction", "turn_index", "decoder", "prompt_version", "label", "raw_output",
                  "details", "created_at"]


class CampaignSerializer(serializers.ModelSerializer):
    systems = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)
    turn_count = serializers.IntegerField(read_only=True, help_text="Turns in the sample.")
    done_count = serializers.IntegerField(read_only=True, help_text="Submitted annotations.")

    class Meta:
        model = AnnotationCampaign
        fields = ["id", "name", "description", "status", "round_numbers", "systems", "sample_size",
                  "annotators_per_turn", "seed", "claim_minutes", "turn_count", "done_count", "created_by",
                  "created_at"]


class AnnotationSerializer(serializers.ModelSerializer):
    """An annotation as staff see it (who annotated which turn of which campaign)."""

    campaign = serializers.IntegerField(source="entry.campaign_id", read_only=True)
    turn = serializers.IntegerField(source="entry.turn_id", read_only=True)
    annotator = serializers.CharField(source="annotator.username", read_only=True)

    class Meta:
        model = Annotation
        fields = ["id", "campaign", "turn", "annotator", "status", "feedback", "correctness", "flags",
                  "gold_selected", "gold_deselected", "note", "claimed_at", "submitted_at"]


class OwnAnnotationSerializer(serializers.ModelSerializer):
    """An annotation as its annotator sees it after submitting or skipping."""

    campaign = serializers.IntegerField(source="entry.campaign_id", read_only=True)

    class Meta:
        model = Annotation
        fields = ["id", "campaign", "status", "feedback", "correctness", "flags", "gold_selected",
                  "gold_deselected", "note", "claimed_at", "submitted_at"]


class SubmissionSerializer(serializers.Serializer):
    """The body of a submission; the annotation service checks the values against the game."""

    feedback = serializers.ChoiceField(choices=Annotation.Feedback.choices)
    correctness = serializers.ChoiceField(choices=Annotation.Correctness.choices)
    flags = serializers.ListField(child=serializers.ChoiceField(choices=Annotation.Flag.choices), required=False,
                                  default=list, max_length=len(Annotation.Flag.choices))
    gold_clicked = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, allow_null=True, default=None, max_length=10,
        help_text="Tangram names the annotator would have clicked (null: no gold action given).",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


ACTIONS = {ADDITION: "addition", CHANGE: "change", DELETION: "deletion"}


class AuditEntrySerializer(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    model = serializers.SerializerMethodField()
    action = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()

    class Meta:
        model = LogEntry
        fields = ["id", "action_time", "user", "username", "model", "object_id", "object_repr", "action", "message"]

    @extend_schema_field(OpenApiTypes.STR)
    def get_model(self, entry: LogEntry) -> str:
        return f"{entry.content_type.app_label}.{entry.content_type.model}" if entry.content_type else ""

    @extend_schema_field({"type": "string", "enum": list(ACTIONS.values())})
    def get_action(self, entry: LogEntry) -> str:
        return ACTIONS.get(entry.action_flag, str(entry.action_flag))

    @extend_schema_field(OpenApiTypes.STR)
    def get_message(self, entry: LogEntry) -> str:
        return entry.get_change_message()
