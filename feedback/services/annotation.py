"""Post-hoc human annotation: campaigns (a stratified sample of model-listener turns), the annotation
queue (claims with overlap and expiry), submissions, final labels, adjudication.

Every refusal is an ``AnnotationError`` (a ValueError) with a clear message, raised before anything is
written: each function runs in one transaction. Annotators are blind: nothing here reads a decoder's
label. The sampling and final-label rules are the pure ``feedback.domain.agreement``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from feedback.domain.agreement import Judgement, final_label, gold_action_from_clicks, stratified_sample
from feedback.models import (
    ActionCorrectness,
    Annotation,
    AnnotationCampaign,
    AnnotationFeedback,
    CampaignTurn,
    FinalLabelSource,
    SatisfactionFlag,
)
from feedback.selectors import (
    annotatable_turns,
    can_annotate,
    can_manage_campaigns,
    live_claim_filter,
    turn_context,
)


class AnnotationError(ValueError):
    """A refused annotation request (bad input, wrong user, nothing eligible); nothing was changed."""


MAX_SAMPLE = 100_000
MAX_OVERLAP = 20
MAX_CLAIM_MINUTES = 24 * 60
MAX_NOTE = 5000


def _check_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AnnotationError(f"{name} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise AnnotationError(f"{name} must be between {low} and {high}, not {value}")
    return value


# ----------------------------------------------------------------------------- campaigns


def create_campaign(
    *, name, sample_size, round_numbers=(), system_names=(), annotators_per_turn=1, seed=0, claim_minutes=30,
    description="", created_by=None,
) -> AnnotationCampaign:
    """A campaign over a stratified sample (strata = round x system, proportional allocation, at least
    one turn per non-empty stratum when the size allows, seeded) of the model-listener turns (action
    source model or cleaned) of ended study games; served in a seeded shuffle."""
    name = (name or "").strip() if isinstance(name, str) else name
    if not isinstance(name, str) or not name:
        raise AnnotationError("a campaign needs a name")
    if len(name) > 100:
        raise AnnotationError("the campaign name is longer than 100 characters")
    _check_int("sample_size", sample_size, 1, MAX_SAMPLE)
    _check_int("annotators_per_turn", annotators_per_turn, 1, MAX_OVERLAP)
    _check_int("claim_minutes", claim_minutes, 1, MAX_CLAIM_MINUTES)
    _check_int("seed", seed, -(2**63), 2**63 - 1)
    for label, values in (("round_numbers", round_numbers), ("system_names", system_names)):
        if isinstance(values, str) or not isinstance(values, Iterable):
            raise AnnotationError(f"{label} must be a list")
    rounds = sorted({_check_int("round number", r, 0, 2**31) for r in round_numbers})
    systems = sorted({str(s) for s in system_names})
    with transaction.atomic():
        if AnnotationCampaign.objects.filter(name=name).exists():
            raise AnnotationError(f"there is already a campaign named {name!r}")
        try:
            strata, system_rows = annotatable_turns(round_numbers=rounds, system_names=systems)
        except LookupError as exc:
            raise AnnotationError(str(exc)) from None
        if not strata:
            raise AnnotationError(
                "no eligible turns: no ended study game of these rounds and systems has a turn played by a model"
            )
        chosen = stratified_sample(strata, sample_size, seed)
        try:
            campaign = AnnotationCampaign.objects.create(
                name=name, description=description or "", round_numbers=rounds, sample_size=sample_size,
                annotators_per_turn=annotators_per_turn, seed=seed, claim_minutes=claim_minutes,
                created_by=created_by,
            )
        except IntegrityError:  # a racing creator took the name
            raise AnnotationError(f"there is already a campaign named {name!r}") from None
        campaign.systems.set(system_rows)
        CampaignTurn.objects.bulk_create(
            CampaignTurn(campaign=campaign, turn_id=turn_id, position=i, stratum=stratum)
            for i, (turn_id, stratum) in enumerate(chosen)
        )
    return campaign


def close_campaign(campaign_id) -> AnnotationCampaign:
    """No more turns are served (submissions of open claims are refused too). Idempotent."""
    with transaction.atomic():
        campaign = AnnotationCampaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None:
            raise AnnotationError(f"no campaign {campaign_id}")
        if campaign.status != AnnotationCampaign.Status.CLOSED:
            campaign.status = AnnotationCampaign.Status.CLOSED
            campaign.save(update_fields=["status"])
    return campaign


# ----------------------------------------------------------------------------- the queue


def _require_annotator(user) -> None:
    if not can_annotate(user):
        raise AnnotationError("only annotators and staff annotate")


@dataclass(frozen=True)
class Claim:
    """What ``claim_next`` served: the annotation (None when nothing is left) and whether it is a new
    claim (False when the user's open claim was returned again) - what the audit log records."""

    annotation: Annotation | None
    new: bool


def next_annotation(campaign_id, user) -> Annotation | None:
    """The annotation ``claim_next`` serves (see there)."""
    return claim_next(campaign_id, user).annotation


def claim_next(campaign_id, user) -> Claim:
    """This user's open (unexpired) claim in the campaign, else a claim on the first turn in serving
    order that the user never had and that has fewer than ``annotators_per_turn`` submissions and live
    claims. None when nothing is left or the campaign is closed. The campaign row is locked, so two
    annotators asking at once never exceed the overlap."""
    _require_annotator(user)
    now = timezone.now()
    with transaction.atomic():
        campaign = AnnotationCampaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None:
            raise AnnotationError(f"no campaign {campaign_id}")
        if campaign.status != AnnotationCampaign.Status.OPEN:
            return Claim(None, False)
        live = live_claim_filter(campaign, now, prefix="annotations__")
        mine = (
            Annotation.objects.filter(entry__campaign=campaign, annotator=user, status=Annotation.Status.CLAIMED,
                                      claimed_at__gt=now - timedelta(minutes=campaign.claim_minutes))
            .order_by("entry__position").first()
        )
        if mine is not None:
            return Claim(mine, False)
        from django.db.models import Count, Q

        entry = (
            CampaignTurn.objects.filter(campaign=campaign)
            .exclude(annotations__annotator=user)
            .annotate(taken=Count("annotations", filter=live))
            .filter(taken__lt=campaign.annotators_per_turn)
            .exclude(Q(final_source=FinalLabelSource.ADJUDICATED) | Q(final_source=FinalLabelSource.IMPORTED))
            .order_by("position").first()
        )
        if entry is None:
            return Claim(None, False)
        return Claim(Annotation.objects.create(entry=entry, annotator=user, claimed_at=now), True)


def _own_claim(annotation_id, user) -> Annotation:
    annotation = (
        Annotation.objects.select_for_update().select_related("entry__campaign", "entry__turn")
        .filter(pk=annotation_id).first()
    )
    if annotation is None:
        raise AnnotationError(f"no annotation {annotation_id}")
    if user is None or annotation.annotator_id != getattr(user, "pk", None):
        raise AnnotationError("only the annotator who was served this turn may submit or skip it")
    if annotation.status != Annotation.Status.CLAIMED:
        raise AnnotationError(f"this annotation is already {annotation.get_status_display()}")
    if annotation.entry.campaign.status != AnnotationCampaign.Status.OPEN:
        raise AnnotationError("the campaign is closed")
    return annotation


def _check_choice(name: str, value, choices) -> str:
    if value not in choices.values:
        raise AnnotationError(f"{name} must be one of {', '.join(choices.values)}, not {value!r}")
    return value


def _check_images(name: str, images, context: Sequence[str]) -> list[str]:
    if isinstance(images, str) or not isinstance(images, Iterable):
        raise AnnotationError(f"{name} must be a list of image names")
    images = list(images)
    unknown = [i for i in images if not isinstance(i, str) or i not in context]
    if unknown:
        raise AnnotationError(f"{name}: {unknown[0]!r} is not one of this game's images")
    if len(set(images)) != len(images):
        raise AnnotationError(f"{name} names an image twice")
    return sorted(images)


def submit_annotation(annotation_id, user, *, feedback, correctness, flags=(), gold_clicked=None, note="") -> Annotation:
    """Fill in the user's claim. ``gold_clicked``: the images the annotator clicked as the correct action
    (those selected before the turn become gold deselections, the others gold selections); None = no
    gold action given. When the turn has all its annotations, its final label is set (agreement)."""
    _check_choice("feedback", feedback, AnnotationFeedback)
    _check_choice("correctness", correctness, ActionCorrectness)
    if isinstance(flags, str) or not isinstance(flags, Iterable):
        raise AnnotationError("flags must be a list")
    flags = sorted(set(_check_choice("flag", f, SatisfactionFlag) for f in flags))
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise AnnotationError(f"the note must be text of at most {MAX_NOTE} characters")
    now = timezone.now()
    with transaction.atomic():
        # The campaign lock orders this against next_annotation (claims and expiry).
        campaign_id = Annotation.objects.filter(pk=annotation_id).values_list("entry__campaign_id", flat=True).first()
        if campaign_id is not None:
            AnnotationCampaign.objects.select_for_update().filter(pk=campaign_id).first()
        annotation = _own_claim(annotation_id, user)
        entry, campaign = annotation.entry, annotation.entry.campaign
        context = turn_context(entry.turn_id)
        gold_selected = gold_deselected = None
        if gold_clicked is not None:
            clicked = _check_images("gold_clicked", gold_clicked, context["listener_order"])
            gold_selected, gold_deselected = gold_action_from_clicks(clicked, context["selection_before"])
        if annotation.claimed_at <= now - timedelta(minutes=campaign.claim_minutes):
            others = entry.annotations.exclude(pk=annotation.pk).filter(live_claim_filter(campaign, now)).count()
            if others >= campaign.annotators_per_turn:
                raise AnnotationError("your claim on this turn expired and the turn went to another annotator")
        annotation.status = Annotation.Status.DONE
        annotation.feedback, annotation.correctness, annotation.flags = feedback, correctness, flags
        annotation.gold_selected, annotation.gold_deselected = gold_selected, gold_deselected
        annotation.note = note.strip()
        annotation.submitted_at = now
        annotation.save()
        _settle(entry, campaign)
    return annotation


def _settle(entry: CampaignTurn, campaign: AnnotationCampaign) -> None:
    """Set the final label once the turn has all its annotations and they agree."""
    if entry.final_source in (FinalLabelSource.ADJUDICATED, FinalLabelSource.IMPORTED):
        return
    done = list(entry.annotations.filter(status=Annotation.Status.DONE))
    if len(done) < campaign.annotators_per_turn:
        return
    decision = final_label([
        Judgement(a.feedback, a.correctness,
                  None if a.gold_selected is None else tuple(a.gold_selected),
                  None if a.gold_deselected is None else tuple(a.gold_deselected))
        for a in done
    ])
    if decision.agreed:
        entry.final_feedback, entry.final_correctness = decision.feedback, decision.correctness
        entry.final_gold_selected, entry.final_gold_deselected = decision.gold_selected, decision.gold_deselected
        entry.final_source = FinalLabelSource.AGREEMENT
    else:
        entry.final_feedback = entry.final_correctness = ""
        entry.final_gold_selected = entry.final_gold_deselected = None
        entry.final_source = ""
    entry.save(update_fields=["final_feedback", "final_correctness", "final_gold_selected",
                              "final_gold_deselected", "final_source"])


def skip_annotation(annotation_id, user) -> Annotation:
    """The user passes on their claim: the turn goes to someone else, and never back to this user."""
    with transaction.atomic():
        annotation = _own_claim(annotation_id, user)
        annotation.status = Annotation.Status.SKIPPED
        annotation.submitted_at = timezone.now()
        annotation.save(update_fields=["status", "submitted_at"])
    return annotation


# ----------------------------------------------------------------------------- adjudication


def adjudicate(entry_id, user, *, feedback, correctness, gold_selected=None, gold_deselected=None) -> CampaignTurn:
    """Staff set a turn's final label (``final_source="adjudicated"``). Gold selections must be images
    not selected before the turn, gold deselections images that were; both None = no gold action."""
    if not can_manage_campaigns(user):
        raise AnnotationError("only staff adjudicate")
    _check_choice("feedback", feedback, AnnotationFeedback)
    _check_choice("correctness", correctness, ActionCorrectness)
    with transaction.atomic():
        entry = CampaignTurn.objects.select_for_update().filter(pk=entry_id).first()
        if entry is None:
            raise AnnotationError(f"no campaign turn {entry_id}")
        context = turn_context(entry.turn_id)
        if gold_selected is None and gold_deselected is None:
            selected = deselected = None
        else:
            selected = _check_images("gold_selected", gold_selected or (), context["listener_order"])
            deselected = _check_images("gold_deselected", gold_deselected or (), context["listener_order"])
            before = set(context["selection_before"])
            if set(selected) & before:
                raise AnnotationError("gold_selected names an image that was already selected before the turn")
            if set(deselected) - before:
                raise AnnotationError("gold_deselected names an image that was not selected before the turn")
        entry.final_feedback, entry.final_correctness = feedback, correctness
        entry.final_gold_selected, entry.final_gold_deselected = selected, deselected
        entry.final_source = FinalLabelSource.ADJUDICATED
        entry.adjudicated_by = user
        entry.adjudicated_at = timezone.now()
        entry.save()
    return entry


__all__ = [
    "AnnotationError", "create_campaign", "next_annotation", "submit_annotation", "skip_annotation", "adjudicate",
    "close_campaign",
]
