"""The rows each read endpoint lists, with what their serializers follow fetched up front.

The API's read side: querysets (lazy, so that filters and pagination narrow them in the database).
The apps' own selectors answer questions about one round or game; a paginated, filterable listing needs
a queryset, so these stay here, read-only.
"""
from django.contrib.admin.models import LogEntry
from django.db.models import Count, Prefetch, Q

from feedback.models import Annotation, AnnotationCampaign, FeedbackLabel
from games.models import Deployment, Interaction, Round, System, Turn
from training.models import PolicyCheckpoint, TrainingRun


def rounds():
    return Round.objects.annotate(
        deployment_count=Count("deployments", distinct=True),
        queue_size=Count("queue", distinct=True),
    ).order_by("number")


def systems():
    return System.objects.order_by("name")


def deployments():
    return Deployment.objects.select_related("round", "system").annotate(
        game_count=Count("interactions", filter=Q(interactions__purpose=Interaction.Purpose.STUDY))
    ).order_by("round__number", "system__name")


def checkpoints():
    return PolicyCheckpoint.objects.select_related("round", "system").order_by("-created_at", "-id")


def training_runs():
    return TrainingRun.objects.select_related("round", "system").order_by("round__number", "system__name")


def interactions():
    return (
        Interaction.objects.select_related("deployment__round", "deployment__system", "config")
        .prefetch_related(Prefetch("turns", queryset=Turn.objects.order_by("index")))
        .order_by("-created_at", "-id")
    )


def feedback_labels():
    return FeedbackLabel.objects.select_related("turn").order_by("turn_id", "decoder", "prompt_version")


def campaigns():
    return AnnotationCampaign.objects.select_related("created_by").prefetch_related("systems").annotate(
        turn_count=Count("sample", distinct=True),
        done_count=Count("sample__annotations", filter=Q(sample__annotations__status=Annotation.Status.DONE),
                         distinct=True),
    ).order_by("-created_at", "-id")


def annotations():
    return Annotation.objects.select_related("entry__campaign", "annotator").order_by("entry__campaign_id", "entry__position", "annotator_id")


def audit_entries():
    return LogEntry.objects.select_related("user", "content_type").order_by("-action_time", "-id")
