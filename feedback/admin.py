"""Admin of the feedback app: decoded labels (read only) and the annotation surface.

Annotation pages are custom admin views of ``AnnotationCampaignAdmin`` (``get_urls``):

* ``annotate/``: the open campaigns with their progress (annotators and staff);
* ``annotate/<campaign>/``: the annotator's page, serving the next turn (``claim_next``);
* ``<campaign>/report/``: progress, agreement and the turns to adjudicate (staff);
* ``adjudicate/<campaign turn>/``: the adjudication form (staff);
* ``add/``: a campaign form that calls ``create_campaign`` (staff).

Members of the ``annotator`` group see only the first two (``feedback.middleware.AnnotatorAdminGate``
keeps them off every other admin page). Every submission, skip, adjudication, campaign creation and
closing, and every claim of a new turn, writes an admin ``LogEntry`` in the same transaction as the change:
the platform's audit log.
"""
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from feedback.models import (
    ActionCorrectness,
    Annotation,
    AnnotationCampaign,
    AnnotationFeedback,
    CampaignTurn,
    FeedbackLabel,
    SatisfactionFlag,
)
from feedback.selectors import (
    adjudication_page,
    adjudication_queue,
    annotation_page,
    can_annotate,
    can_manage_campaigns,
    campaign_agreement,
    campaign_progress,
    campaign_turn_page,
    campaigns_overview,
    turn_context,
)
from feedback.services.annotation import (
    AnnotationError,
    adjudicate,
    close_campaign,
    create_campaign,
    claim_next,
    skip_annotation,
    submit_annotation,
)
from games.admin_base import ReadOnlyAdmin


@admin.register(FeedbackLabel)
class FeedbackLabelAdmin(ReadOnlyAdmin):
    list_display = ("turn", "decoder", "prompt_version", "label", "created_at")
    list_filter = ("decoder", "prompt_version", "label")
    search_fields = ("raw_output",)
    raw_id_fields = ("turn",)


# ----------------------------------------------------------------------------- annotation

# Keyboard shortcuts of the annotator's page (also in static/feedback/annotate.js and docs/annotation.md).
SHORTCUTS = [
    ("1 / 2 / 3", "feedback: positive / neutral / negative"),
    ("Y / P / N", "action correct: yes / partly / no"),
    ("X", "flag: speaker satisfied with an incorrect action"),
    ("Z", "flag: speaker satisfied with a partly correct action"),
    ("A – J", "click image A – J for the correct action (toggle)"),
    ("G", "gold action given (toggle; on by itself when an image is clicked)"),
    ("0", "clear the correct action"),
    ("M", "write a note (Esc leaves the note)"),
    ("Enter", "submit and go to the next turn (Ctrl+Enter inside the note)"),
    ("S", "skip this turn"),
]


def _text_list(value: str) -> list[str]:
    return [part for part in (p.strip() for p in value.replace(",", " ").split()) if part]


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    sample_size = forms.IntegerField(min_value=1, help_text="Turns in the sample (fewer if fewer exist).")
    round_numbers = forms.CharField(required=False, help_text="Round numbers, e.g. '1 2 3' (empty: all).")
    systems = forms.CharField(required=False, help_text="System names, e.g. 'B-SUP CONTROL' (empty: all).")
    annotators_per_turn = forms.IntegerField(min_value=1, initial=1, help_text="Overlap, for agreement.")
    seed = forms.IntegerField(initial=0)
    claim_minutes = forms.IntegerField(min_value=1, initial=30)

    def clean_round_numbers(self):
        try:
            return [int(r) for r in _text_list(self.cleaned_data["round_numbers"])]
        except ValueError:
            raise forms.ValidationError("round numbers are whole numbers separated by spaces or commas") from None

    def clean_systems(self):
        return _text_list(self.cleaned_data["systems"])


class AdjudicationForm(forms.Form):
    feedback = forms.ChoiceField(choices=AnnotationFeedback.choices, widget=forms.RadioSelect)
    correctness = forms.ChoiceField(choices=ActionCorrectness.choices, widget=forms.RadioSelect)
    gold_given = forms.BooleanField(required=False, label="a gold action is given")
    gold_selected = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    gold_deselected = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, images=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gold_selected"].choices = list(images)
        self.fields["gold_deselected"].choices = list(images)


@admin.register(AnnotationCampaign)
class AnnotationCampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "progress", "agreement", "annotators_per_turn", "created_at", "links")
    list_filter = ("status",)
    readonly_fields = ("name", "description", "status", "round_numbers", "systems", "sample_size",
                       "annotators_per_turn", "seed", "claim_minutes", "created_by", "created_at")
    actions = ["close_selected"]

    # Staff who are not annotators manage campaigns; annotators only annotate (custom views below).
    def has_module_permission(self, request):
        return can_manage_campaigns(request.user)

    def has_view_permission(self, request, obj=None):
        return can_manage_campaigns(request.user)

    def has_add_permission(self, request):
        return can_manage_campaigns(request.user)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="progress")
    def progress(self, obj):
        p = campaign_progress(obj.pk)
        return f"{p['done']} / {p['needed']} annotations; {p['turns_final']} / {p['turns']} turns final"

    @admin.display(description="alpha (feedback / correctness)")
    def agreement(self, obj):
        a = campaign_agreement(obj.pk)
        return f"{_fmt(a['alpha_feedback'])} / {_fmt(a['alpha_correctness'])}"

    @admin.display(description="")
    def links(self, obj):
        return format_html(
            '<a href="{}">report &amp; adjudication</a> · <a href="{}">annotate</a>',
            reverse("admin:feedback_campaign_report", args=[obj.pk]),
            reverse("admin:feedback_annotate", args=[obj.pk]),
        )

    @admin.action(description="Close the selected campaigns (no more turns served)")
    def close_selected(self, request, queryset):
        for campaign in queryset:
            with transaction.atomic():
                close_campaign(campaign.pk)
                self.log_change(request, campaign, "Closed the campaign.")
        self.message_user(request, f"Closed {queryset.count()} campaign(s).")

    def get_actions(self, request):
        return super().get_actions(request) if can_manage_campaigns(request.user) else {}

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("annotate/", view(self.campaigns_view), name="feedback_annotation_campaigns"),
            path("annotate/<int:campaign_id>/", view(self.annotate_view), name="feedback_annotate"),
            path("<int:campaign_id>/report/", view(self.report_view), name="feedback_campaign_report"),
            path("adjudicate/<int:entry_id>/", view(self.adjudicate_view), name="feedback_adjudicate"),
            *super().get_urls(),
        ]

    def _context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **extra}

    # -- campaign creation (staff) ------------------------------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        if not can_manage_campaigns(request.user):
            raise PermissionDenied
        form = CampaignForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    campaign = create_campaign(
                        name=data["name"], description=data["description"], sample_size=data["sample_size"],
                        round_numbers=data["round_numbers"], system_names=data["systems"],
                        annotators_per_turn=data["annotators_per_turn"], seed=data["seed"],
                        claim_minutes=data["claim_minutes"], created_by=request.user,
                    )
                    self.log_addition(request, campaign, f"Created the campaign: {campaign.sample.count()} turns sampled.")
            except AnnotationError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"Campaign {campaign.name!r}: {campaign.sample.count()} turns sampled.")
                return HttpResponseRedirect(reverse("admin:feedback_campaign_report", args=[campaign.pk]))
        return TemplateResponse(request, "admin/feedback/campaign_add.html",
                                self._context(request, title="Create an annotation campaign", form=form))

    # -- annotators ------------------------------------------------------------------------------------

    def campaigns_view(self, request):
        if not can_annotate(request.user):
            raise PermissionDenied
        return TemplateResponse(request, "admin/feedback/annotation_campaigns.html", self._context(
            request, title="Annotation campaigns", campaigns=campaigns_overview(open_only=True),
            can_manage=can_manage_campaigns(request.user),
        ))

    def annotate_view(self, request, campaign_id):
        if not can_annotate(request.user):
            raise PermissionDenied
        campaign = AnnotationCampaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise Http404("no such campaign")
        if request.method == "POST":
            return self._annotate_post(request, campaign)
        with transaction.atomic():
            claim = claim_next(campaign.pk, request.user)
            annotation = claim.annotation
            if claim.new:  # not the user's open claim served again
                self.log_addition(request, annotation, "Claimed a turn to annotate.")
        page = annotation_page(annotation.pk) if annotation is not None else None
        return TemplateResponse(request, "admin/feedback/annotate.html", self._context(
            request, title=f"Annotate: {campaign.name}", campaign=campaign, page=page,
            progress=campaign_progress(campaign.pk), shortcuts=SHORTCUTS,
            feedback_choices=AnnotationFeedback.choices, correctness_choices=ActionCorrectness.choices,
            flag_choices=SatisfactionFlag.choices,
            feedback_keys=dict(zip(AnnotationFeedback.values, "123")),
            correctness_keys=dict(zip(ActionCorrectness.values, "YPN")),
            flag_keys=dict(zip(SatisfactionFlag.values, "XZ")),
        ))

    def _annotate_post(self, request, campaign):
        here = reverse("admin:feedback_annotate", args=[campaign.pk])
        annotation_id = request.POST.get("annotation_id", "")
        annotation = Annotation.objects.filter(pk=annotation_id if annotation_id.isdigit() else None).first()
        try:
            if annotation is None or annotation.entry.campaign_id != campaign.pk:
                raise AnnotationError("no such annotation in this campaign")
            self._submit_or_skip(request, annotation)
        except AnnotationError as exc:
            messages.error(request, str(exc))
        return HttpResponseRedirect(here)

    @transaction.atomic
    def _submit_or_skip(self, request, annotation):
        """One transaction: the change and its audit-log entry."""
        if request.POST.get("action") == "skip":
            annotation = skip_annotation(annotation.pk, request.user)
            self.log_change(request, annotation, "Skipped the turn.")
        else:
            gold = request.POST.getlist("gold") if request.POST.get("gold_given") else None
            annotation = submit_annotation(
                annotation.pk, request.user, feedback=request.POST.get("feedback", ""),
                correctness=request.POST.get("correctness", ""), flags=request.POST.getlist("flags"),
                gold_clicked=gold, note=request.POST.get("note", ""),
            )
            self.log_change(request, annotation, (
                f"Submitted: feedback {annotation.feedback}, correctness {annotation.correctness}, "
                f"flags {annotation.flags or '-'}, gold select {annotation.gold_selected}, "
                f"gold deselect {annotation.gold_deselected}."
            ))

    # -- staff: report and adjudication ---------------------------------------------------------------------

    def report_view(self, request, campaign_id):
        if not can_manage_campaigns(request.user):
            raise PermissionDenied
        campaign = AnnotationCampaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise Http404("no such campaign")
        return TemplateResponse(request, "admin/feedback/campaign_report.html", self._context(
            request, title=f"Campaign {campaign.name}", campaign=campaign, progress=campaign_progress(campaign.pk),
            agreement=campaign_agreement(campaign.pk), queue=adjudication_queue(campaign.pk),
        ))

    def adjudicate_view(self, request, entry_id):
        if not can_manage_campaigns(request.user):
            raise PermissionDenied
        entry = CampaignTurn.objects.filter(pk=entry_id).first()
        if entry is None:
            raise Http404("no such campaign turn")
        page = adjudication_page(entry.pk)
        context = turn_context(entry.turn_id)
        images = [(name, f"{letter} ({name})") for letter, name in zip("ABCDEFGHIJ", context["listener_order"])]
        form = AdjudicationForm(request.POST or None, images=images)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    entry = adjudicate(
                        entry.pk, request.user, feedback=data["feedback"], correctness=data["correctness"],
                        gold_selected=data["gold_selected"] if data["gold_given"] else None,
                        gold_deselected=data["gold_deselected"] if data["gold_given"] else None,
                    )
                    self.log_change(request, entry, (
                        f"Adjudicated: feedback {entry.final_feedback}, correctness {entry.final_correctness}, "
                        f"gold select {entry.final_gold_selected}, gold deselect {entry.final_gold_deselected}."
                    ))
            except AnnotationError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"Turn #{entry.position} adjudicated.")
                return HttpResponseRedirect(reverse("admin:feedback_campaign_report", args=[entry.campaign_id]))
        return TemplateResponse(request, "admin/feedback/adjudicate.html", self._context(
            request, title=f"Adjudicate turn #{entry.position} of {entry.campaign.name}", entry=entry,
            data=page, page=campaign_turn_page(entry.pk), form=form,
        ))


def _fmt(value):
    return "–" if value is None else f"{value:.3f}"


__all__ = ["AnnotationCampaignAdmin", "FeedbackLabelAdmin", "SHORTCUTS"]
