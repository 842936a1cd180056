"""Thin entry points: read endpoints for staff, annotation endpoints for annotators (docs/api.md).

A read endpoint is a selector's queryset, narrowed by validated filters, paginated and serialized. An
annotation endpoint validates the body, calls one annotation service and logs the change in the audit
log (``LogEntry``), both in one transaction: a refused call changes nothing and logs nothing.
"""
from django.contrib.admin.models import ADDITION, CHANGE
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from api import audit, selectors
from api import serializers as out
from api.access import IsAnnotatorOrResearcher, IsResearcher
from api.filters import Choice, CampaignId, RoundNumber, SystemName, Text, UserRef, apply_filters, dates, schema_parameters
from api.pagination import Pages
from api.parsers import BoundedJSONParser
from api.throttling import AnnotationThrottle, ReadThrottle
from feedback.models import Annotation, AnnotationCampaign, FeedbackLabel
from feedback.selectors import annotation_page, campaigns_overview
from feedback.services.annotation import AnnotationError, claim_next, skip_annotation, submit_annotation
from games.models import Interaction, Round
from training.models import TrainingRun


class ApiMixin:
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]
    parser_classes = [BoundedJSONParser]
    permission_classes = [IsResearcher]
    throttle_classes = [ReadThrottle]


def listing(cls):
    """Put a read endpoint's filters into the OpenAPI schema of its list operation."""
    return extend_schema_view(list=extend_schema(parameters=schema_parameters(cls.filters)))(cls)


class ReadViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """``GET <name>/`` (filtered, paginated) and ``GET <name>/<id>/``, staff only."""

    pagination_class = Pages
    filters: dict = {}
    rows = None  # a selector returning the queryset

    def get_queryset(self):
        return apply_filters(type(self).rows(), self.filters, self.request.query_params)


def _row_id(raw) -> int:
    if not str(raw).isdigit() or len(str(raw)) > 18:
        raise NotFound(f"{raw!r} is not an id")
    return int(raw)


def _refused(error: AnnotationError) -> ValidationError:
    return ValidationError({"detail": str(error)})


@listing
class RoundViewSet(ReadViewSet):
    serializer_class = out.RoundSerializer
    rows = selectors.rounds
    filters = {"status": Choice("status", "Round status.", Round.Status.values), **dates("created_at")}


@listing
class SystemViewSet(ReadViewSet):
    serializer_class = out.SystemSerializer
    rows = selectors.systems
    filters = {"round": RoundNumber("deployments__round__number", "Systems deployed in this round (number)."),
               **dates("created_at")}

    def get_queryset(self):
        return super().get_queryset().distinct()


@listing
class DeploymentViewSet(ReadViewSet):
    serializer_class = out.DeploymentSerializer
    rows = selectors.deployments
    filters = {"round": RoundNumber("round__number", "Round number."),
               "system": SystemName("system__name", "System name."), **dates("created_at")}


@listing
class CheckpointViewSet(ReadViewSet):
    serializer_class = out.CheckpointSerializer
    rows = selectors.checkpoints
    filters = {"round": RoundNumber("round__number", "Round whose data trained it."),
               "system": SystemName("system__name", "System name."), **dates("created_at")}


@listing
class TrainingRunViewSet(ReadViewSet):
    serializer_class = out.TrainingRunSerializer
    rows = selectors.training_runs
    filters = {"round": RoundNumber("round__number", "Round number."),
               "system": SystemName("system__name", "System name."),
               "status": Choice("status", "Run status.", TrainingRun.Status.values), **dates("created_at")}


@listing
class InteractionViewSet(ReadViewSet):
    """Games with their turns. Participants appear as internal ids only."""

    serializer_class = out.InteractionSerializer
    rows = selectors.interactions
    filters = {
        "round": RoundNumber("deployment__round__number", "Round number."),
        "system": SystemName("deployment__system__name", "System name."),
        "status": Choice("status", "Game status.", Interaction.Status.values),
        "end_reason": Choice("end_reason", "Why the game ended.", Interaction.EndReason.values),
        "purpose": Choice("purpose", "Study game or practice.", Interaction.Purpose.values),
        **dates("created_at"),
    }


@listing
class FeedbackLabelViewSet(ReadViewSet):
    serializer_class = out.FeedbackLabelSerializer
    rows = selectors.feedback_labels
    filters = {
        "round": RoundNumber("turn__interaction__deployment__round__number", "Round number of the game."),
        "system": SystemName("turn__interaction__deployment__system__name", "System of the game."),
        "decoder": Text("decoder", "Decoder name (binary, ternary, lexicon, ...)."),
        "prompt_version": Text("prompt_version", "Prompt or rules version."),
        "label": Choice("label", "Decoded label.", FeedbackLabel.Value.values),
        **dates("created_at"),
    }


@listing
class CampaignViewSet(ReadViewSet):
    serializer_class = out.CampaignSerializer
    rows = selectors.campaigns
    filters = {"status": Choice("status", "Campaign status.", AnnotationCampaign.Status.values), **dates("created_at")}

    @extend_schema(request=None, responses={200: inline_serializer("NextAnnotation", {
        "annotation": serializers.DictField(allow_null=True, help_text=(
            "The claimed turn as the annotator sees it (annotation_id, the ten images in the listener's order, "
            "the dialogue, the model's action, the speaker's next message; never a decoder label); null when "
            "nothing is left.")),
    })})
    @action(detail=True, methods=["post"], permission_classes=[IsAnnotatorOrResearcher],
            throttle_classes=[AnnotationThrottle], pagination_class=None)
    def next(self, request, pk=None):
        """Annotators: claim the next turn of this campaign (or get your open claim back)."""
        campaign_id = _row_id(pk)
        try:
            with transaction.atomic():
                claim = claim_next(campaign_id, request.user)
                annotation = claim.annotation
                if claim.new:
                    audit.record(request.user, annotation, ADDITION, "Claimed a turn to annotate through the API.")
        except AnnotationError as error:
            if not AnnotationCampaign.objects.filter(pk=campaign_id).exists():
                raise NotFound(str(error)) from None
            raise _refused(error) from None
        if annotation is None:
            return Response({"annotation": None, "detail": "Nothing left to annotate in this campaign."})
        return Response({"annotation": annotation_page(annotation.pk)})

    @extend_schema(responses={200: inline_serializer("OpenCampaign", {
        "campaign_id": serializers.IntegerField(), "name": serializers.CharField(),
        "annotators_per_turn": serializers.IntegerField(), "turns": serializers.IntegerField(),
        "needed": serializers.IntegerField(), "done": serializers.IntegerField(),
        "share_done": serializers.FloatField(allow_null=True)}, many=True)})
    @action(detail=False, methods=["get"], permission_classes=[IsAnnotatorOrResearcher],
            throttle_classes=[AnnotationThrottle], pagination_class=None)
    def open(self, request):
        """Annotators: the open campaigns, with how far each has come."""
        apply_filters(None, {}, request.query_params)
        keys = ("campaign_id", "name", "annotators_per_turn", "turns", "needed", "done", "share_done")
        return Response([{key: row[key] for key in keys} for row in campaigns_overview(open_only=True)])


@listing
class AnnotationViewSet(ReadViewSet):
    """Staff: every annotation. Annotators: only ``submit`` and ``skip`` of their own claims."""

    serializer_class = out.AnnotationSerializer
    rows = selectors.annotations
    filters = {
        "campaign": CampaignId("entry__campaign_id", "Campaign id."),
        "round": RoundNumber("entry__turn__interaction__deployment__round__number", "Round number of the game."),
        "system": SystemName("entry__turn__interaction__deployment__system__name", "System of the game."),
        "status": Choice("status", "Annotation status.", Annotation.Status.values),
        **dates("claimed_at", "claimed"),
    }

    def _change(self, request, pk, service, message: str, **values):
        annotation_id = _row_id(pk)
        try:
            with transaction.atomic():
                annotation = service(annotation_id, request.user, **values)
                audit.record(request.user, annotation, CHANGE, message)
        except AnnotationError as error:
            if not Annotation.objects.filter(pk=annotation_id).exists():
                raise NotFound(str(error)) from None
            raise _refused(error) from None
        return Response(out.OwnAnnotationSerializer(annotation).data)

    @extend_schema(request=out.SubmissionSerializer, responses={
        200: out.OwnAnnotationSerializer, 400: OpenApiResponse(description="Bad values, or not your open claim.")})
    @action(detail=True, methods=["post"], permission_classes=[IsAnnotatorOrResearcher],
            throttle_classes=[AnnotationThrottle], pagination_class=None)
    def submit(self, request, pk=None):
        """Annotators: submit your judgement of a turn you were served."""
        body = out.SubmissionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        message = (f"Submitted through the API: feedback={values['feedback']}, correctness={values['correctness']}"
                   f", flags={','.join(values['flags']) or '-'}, gold={'given' if values['gold_clicked'] is not None else '-'}.")
        return self._change(request, pk, submit_annotation, message, **values)

    @extend_schema(request=None, responses={200: out.OwnAnnotationSerializer})
    @action(detail=True, methods=["post"], permission_classes=[IsAnnotatorOrResearcher],
            throttle_classes=[AnnotationThrottle], pagination_class=None)
    def skip(self, request, pk=None):
        """Annotators: pass on a turn you were served (it goes to someone else)."""
        return self._change(request, pk, skip_annotation, "Skipped through the API.")


@listing
class AuditViewSet(ReadViewSet):
    """The audit log: admin changes and API writes (Django admin's LogEntry), newest first."""

    serializer_class = out.AuditEntrySerializer
    rows = selectors.audit_entries
    filters = {
        "user": UserRef("user_id", "Who acted: a user id or username."),
        "after": dates("action_time", "action")["action_after"],
        "before": dates("action_time", "action")["action_before"],
    }


class RootView(ApiMixin, APIView):
    """The endpoints of the RESPECT API (docs/api.md)."""

    endpoints: tuple[str, ...] = ()  # the router's basenames, given by api/urls.py

    @extend_schema(responses={200: inline_serializer("Root", {"rounds": serializers.URLField()})})
    def get(self, request, format=None):
        links = {name: reverse(f"api:{name}-list", request=request, format=format) for name in self.endpoints}
        links["schema"] = reverse("api:schema", request=request)
        return Response(links)


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 document of this API (YAML; ``?format=json`` for JSON)."""

    permission_classes = [IsResearcher]
    throttle_classes = [ReadThrottle]
