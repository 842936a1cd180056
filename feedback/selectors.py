"""Read-side queries of the feedback app: stored labels, and decoder evaluation against ground truths."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from feedback.domain.labels import CLASSES
from feedback.domain.metrics import Evaluation, evaluate
from feedback.domain.truth import TRUTH_SOURCES, TruthSource
from feedback.domain.windows import windows_of_game
from feedback.models import FeedbackLabel


def labelled_turn_ids(turn_ids: Iterable[int], decoder: str, version: str) -> set[int]:
    """The turns among ``turn_ids`` that already have a label of this decoder and version."""
    ids = list(turn_ids)
    found: set[int] = set()
    for start in range(0, len(ids), 900):  # stay under SQLite's parameter limit
        found |= set(
            FeedbackLabel.objects.filter(
                turn_id__in=ids[start: start + 900], decoder=decoder, prompt_version=version
            ).values_list("turn_id", flat=True)
        )
    return found


def labels_by_turn(turn_ids: Iterable[int] | None, decoder: str, version: str) -> dict[int, str]:
    """turn id -> label (positive / neutral / negative / unparsed) of one label set."""
    rows = FeedbackLabel.objects.filter(decoder=decoder, prompt_version=version)
    if turn_ids is None:
        return dict(rows.values_list("turn_id", "label"))
    ids = list(turn_ids)
    out: dict[int, str] = {}
    for start in range(0, len(ids), 900):
        out.update(rows.filter(turn_id__in=ids[start: start + 900]).values_list("turn_id", "label"))
    return out


def label_sets() -> list[dict]:
    """Every (decoder, version) with its label counts."""
    from django.db.models import Count

    rows = FeedbackLabel.objects.values("decoder", "prompt_version", "label").annotate(n=Count("id"))
    sets: dict[tuple[str, str], dict] = {}
    for row in rows.order_by("decoder", "prompt_version"):
        key = (row["decoder"], row["prompt_version"])
        entry = sets.setdefault(key, {"decoder": key[0], "prompt_version": key[1], "counts": {}})
        entry["counts"][row["label"]] = row["n"]
    return list(sets.values())


# ----------------------------------------------------------------------------- evaluation

_EXTRA_TRUTHS: dict[str, TruthSource] = {}


def register_truth_source(name: str, source: TruthSource) -> None:
    """Add a ground truth (e.g. human annotations): a function from games (``games.selectors.feedback_games``
    dicts) to turn id -> positive / neutral / negative."""
    _EXTRA_TRUTHS[name] = source


def truth_sources() -> dict[str, TruthSource]:
    return {**TRUTH_SOURCES, **_EXTRA_TRUTHS}


@dataclass(frozen=True)
class GroupEvaluation:
    """One decoder against one truth on one group of games (a round and system, or everything: None)."""

    round_number: int | None
    system_name: str | None
    decoder: str
    version: str
    truth: str
    turns: int  # all turns of the group's games
    turns_labelled: int  # of those, with a class label (positive / neutral / negative)
    evaluation: Evaluation

    @property
    def share_labelled(self) -> float | None:
        return self.turns_labelled / self.turns if self.turns else None

    def to_dict(self) -> dict:
        return {
            "round": self.round_number, "system": self.system_name, "decoder": self.decoder, "version": self.version,
            "truth": self.truth, "turns": self.turns, "turns_labelled": self.turns_labelled,
            "share_labelled": self.share_labelled, **self.evaluation.to_dict(),
        }


LabelLookup = Callable[[Sequence[Mapping]], Mapping[int, str]]


def evaluate_games(
    games: Sequence[Mapping], labels: Mapping[int, str], *, decoder: str, version: str,
    truths: Sequence[str] = ("intent", "sim_quality", "quality"), by_group: bool = True,
) -> list[GroupEvaluation]:
    """Score ``labels`` (turn id -> label) on ``games`` against each truth: one result per (round,
    system) group, then one over all games (round and system None)."""
    sources = truth_sources()
    unknown = [t for t in truths if t not in sources]
    if unknown:
        raise LookupError(f"unknown ground truth {', '.join(unknown)} (choose from {', '.join(sources)})")
    groups: dict[tuple, list[Mapping]] = {}
    if by_group:  # games outside rounds count in the overall result only
        for game in games:
            if game["round_number"] is not None or game["system_name"] is not None:
                groups.setdefault((game["round_number"], game["system_name"]), []).append(game)
    results = []
    for truth_name in truths:
        truth = sources[truth_name](games)
        keyed = [(key, members) for key, members in sorted(groups.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1] or ""))]
        keyed.append(((None, None), list(games)))
        for (round_number, system_name), members in keyed:
            turn_ids = [t["id"] for g in members for t in g["turns"]]
            pairs = [(labels.get(i), truth.get(i)) for i in turn_ids]
            results.append(GroupEvaluation(
                round_number=round_number, system_name=system_name, decoder=decoder, version=version,
                truth=truth_name, turns=len(turn_ids),
                turns_labelled=sum(1 for i in turn_ids if labels.get(i) in CLASSES),
                evaluation=evaluate(pairs),
            ))
    return results


def decoder_evaluation(
    *, decoder: str, version: str, round_number: int | None = None, system_name: str | None = None,
    interaction_ids: Iterable[int] | None = None, truths: Sequence[str] = ("intent", "sim_quality", "quality"),
    live=None,
) -> list[GroupEvaluation]:
    """A decoder's stored labels (``decoder`` + ``version``) scored per round and system and overall,
    against each named ground truth. With ``live`` (a FeedbackDecoder) the games are decoded now, in
    memory, instead (nothing is stored). This is the function the study report uses."""
    from games.selectors import feedback_games

    games = feedback_games(
        round_number=round_number, system_name=system_name,
        interaction_ids=list(interaction_ids) if interaction_ids is not None else None,
    )
    if live is not None:
        windows = [w for g in games for w in windows_of_game(g)]
        labels = {w.key: d.label for w, d in zip(windows, live.decode(windows))}
        decoder, version = live.name, live.prompt_version
    else:
        labels = labels_by_turn([t["id"] for g in games for t in g["turns"]], decoder, version)
    return evaluate_games(games, labels, decoder=decoder, version=version, truths=truths)


def round_evaluation(
    round_number: int, *, system_name: str | None = None, truths: Sequence[str] = ("intent", "sim_quality", "quality"),
    live: bool = False,
) -> list[GroupEvaluation]:
    """Each system of a round scored with its own decoder (the one ``decode_feedback`` uses): one
    group per system and truth. ``live`` decodes now instead of reading stored labels (lexicon-type
    decoders only need no model; prompted ones load the system's base model)."""
    from feedback.decoders.choice import choose_decoder
    from feedback.decoders.registry import build_decoder
    from games.selectors import feedback_deployments

    results = []
    for dep in feedback_deployments(round_number, system_name):
        choice = choose_decoder(dep["system_decoder"], dep["base_model"])
        if choice.name is None:
            continue
        decoder = build_decoder(choice.name, base_path=choice.base_path) if live else None
        groups = decoder_evaluation(
            decoder=choice.name, version=choice.version, round_number=round_number, system_name=dep["system_name"],
            truths=truths, live=decoder,
        )
        results += [g for g in groups if g.system_name is not None]
    return results


__all__ = [
    "round_evaluation", "labelled_turn_ids", "labels_by_turn", "label_sets", "register_truth_source", "truth_sources", "GroupEvaluation",
    "evaluate_games", "decoder_evaluation",
]


# ----------------------------------------------------------------------------- human annotation


@dataclass(frozen=True)
class FinalAnnotation:
    """The final (agreed, adjudicated or imported) human label of one turn."""

    turn_id: int
    campaign: str
    feedback: str  # positive / neutral / negative
    correctness: str  # yes / partial / no
    gold_selected: tuple[str, ...] | None  # None when no gold action was given
    gold_deselected: tuple[str, ...] | None
    source: str  # agreement / adjudicated / imported


def final_annotations(turn_ids: Iterable[int] | None = None) -> dict[int, FinalAnnotation]:
    """turn id -> its final human label. A turn annotated in several campaigns takes the newest
    campaign's final label; turns without one are absent."""
    from feedback.models import CampaignTurn

    rows = CampaignTurn.objects.exclude(final_source="").select_related("campaign")
    if turn_ids is None:
        found = list(rows)
    else:
        ids = list(turn_ids)
        found = [row for start in range(0, len(ids), 900) for row in rows.filter(turn_id__in=ids[start: start + 900])]
    found.sort(key=lambda row: (row.campaign.created_at, row.campaign_id))  # newest campaign last, so it wins
    return {
        row.turn_id: FinalAnnotation(
            turn_id=row.turn_id,
            campaign=row.campaign.name,
            feedback=row.final_feedback,
            correctness=row.final_correctness,
            gold_selected=None if row.final_gold_selected is None else tuple(row.final_gold_selected),
            gold_deselected=None if row.final_gold_deselected is None else tuple(row.final_gold_deselected),
            source=row.final_source,
        )
        for row in found
    }


# ----------------------------------------------------------------------------- annotation campaigns
#
# Annotation reads the games it samples through the campaign's own foreign key to ``games.Turn``
# (read only). Nothing an annotator is shown includes a decoder's label (blind annotation).

ANNOTATOR_GROUP = "annotator"
MODEL_ACTION_SOURCES = ("model", "cleaned")  # a model listener acted (not a fallback, error or timeout)


def is_annotator(user) -> bool:
    """A member of the ``annotator`` group who is not a superuser: sees only the annotation pages."""
    if user is None or not getattr(user, "is_authenticated", False) or user.is_superuser:
        return False
    return user.groups.filter(name=ANNOTATOR_GROUP).exists()


def can_manage_campaigns(user) -> bool:
    """Staff who are not annotators (and superusers): create campaigns, read agreement, adjudicate."""
    return bool(
        user is not None and getattr(user, "is_authenticated", False) and user.is_active
        and (user.is_superuser or (user.is_staff and not is_annotator(user)))
    )


def can_annotate(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active
                and (is_annotator(user) or can_manage_campaigns(user)))


def live_claim_filter(campaign, now, prefix: str = ""):
    """Q over annotations (``prefix`` e.g. "annotations__") that hold a place in a turn's overlap:
    submitted ones, and claims younger than the campaign's ``claim_minutes``."""
    from datetime import timedelta

    from django.db.models import Q

    return Q(**{f"{prefix}status": "done"}) | Q(
        **{f"{prefix}status": "claimed", f"{prefix}claimed_at__gt": now - timedelta(minutes=campaign.claim_minutes)}
    )


def annotatable_turns(*, round_numbers: Sequence[int] = (), system_names: Sequence[str] = ()):
    """(strata, systems): "round:system" -> ids of the turns a model listener played (action source
    model or cleaned) in ended study games of those rounds and systems (empty: all), and the System rows
    named. LookupError names an unknown round or system."""
    from games.models import Round, System, Turn

    if round_numbers:
        known = set(Round.objects.filter(number__in=list(round_numbers)).values_list("number", flat=True))
        missing = [r for r in round_numbers if r not in known]
        if missing:
            raise LookupError(f"unknown round {missing[0]}")
    systems = list(System.objects.filter(name__in=list(system_names))) if system_names else []
    if system_names:
        known_names = {s.name for s in systems}
        missing_names = [s for s in system_names if s not in known_names]
        if missing_names:
            raise LookupError(f"unknown system {missing_names[0]!r}")
    rows = Turn.objects.filter(
        action_source__in=MODEL_ACTION_SOURCES, interaction__status="ended", interaction__purpose="study",
        interaction__deployment__isnull=False,
    )
    if round_numbers:
        rows = rows.filter(interaction__deployment__round__number__in=list(round_numbers))
    if system_names:
        rows = rows.filter(interaction__deployment__system__name__in=list(system_names))
    strata: dict[str, list[int]] = {}
    for turn_id, number, name in rows.values_list(
        "pk", "interaction__deployment__round__number", "interaction__deployment__system__name"
    ).order_by("pk"):
        strata.setdefault(f"{number}:{name}", []).append(turn_id)
    return strata, systems


def turn_context(turn_id: int) -> dict:
    """A turn with its game: ``listener_order`` (image names), ``targets``, ``selection_before``,
    ``selected``, ``deselected``, ``selection_after``."""
    from games.models import Turn

    turn = Turn.objects.select_related("interaction").get(pk=turn_id)
    images = sorted(turn.interaction.config.context_images.select_related("tangram"), key=lambda r: r.listener_position)
    return {
        "listener_order": [r.tangram.name for r in images],
        "targets": sorted(r.tangram.name for r in images if r.is_target),
        "selection_before": sorted(turn.selection_before), "selected": sorted(turn.selected),
        "deselected": sorted(turn.deselected), "selection_after": sorted(turn.selection_after),
    }


def annotation_page(annotation_id: int) -> dict:
    """What the annotator sees for one claim: ``campaign_turn_page`` of its campaign turn, plus
    ``annotation_id`` and ``status``. No decoder label, ever."""
    from feedback.models import Annotation

    annotation = Annotation.objects.only("pk", "status", "entry_id").get(pk=annotation_id)
    return {**campaign_turn_page(annotation.entry_id), "annotation_id": annotation.pk, "status": annotation.status}


def campaign_turn_page(entry_id: int) -> dict:
    """One campaign turn as annotators see it: the ten images in the LISTENER's order (letter, name, svg,
    target, selected before / after, toggled by the model), the dialogue so far (earlier turns with the
    listener's actions, in letters), this turn's message and the model's action, and the speaker's next
    message (None for the last turn, with the game's end reason). No decoder label, ever."""
    from games.domain.rules import LETTERS
    from games.models import Turn

    from feedback.models import CampaignTurn

    entry = CampaignTurn.objects.select_related("campaign", "turn__interaction__config").get(pk=entry_id)
    turn = entry.turn
    game = turn.interaction
    turns = list(Turn.objects.filter(interaction=game).order_by("index").values(
        "index", "utterance", "selected", "deselected"))
    images = sorted(game.config.context_images.select_related("tangram"), key=lambda r: r.listener_position)
    letter = {r.tangram.name: LETTERS[i] for i, r in enumerate(images)}
    before, after = set(turn.selection_before), set(turn.selection_after)

    def letters(names):
        return sorted(letter[n] for n in names)

    following = next((t for t in turns if t["index"] == turn.index + 1), None)
    return {
        "entry_id": entry.pk,
        "campaign_id": entry.campaign_id,
        "campaign": entry.campaign.name,
        "position": entry.position,
        "turn_index": turn.index,
        "images": [
            {
                "letter": LETTERS[i], "name": r.tangram.name, "svg": r.tangram.svg, "target": r.is_target,
                "before": r.tangram.name in before, "after": r.tangram.name in after,
                "model_selected": r.tangram.name in turn.selected, "model_deselected": r.tangram.name in turn.deselected,
            }
            for i, r in enumerate(images)
        ],
        "dialogue": [
            {"index": t["index"], "utterance": t["utterance"], "selected": letters(t["selected"]),
             "deselected": letters(t["deselected"])}
            for t in turns if t["index"] < turn.index
        ],
        "utterance": turn.utterance,
        "action": {"selected": letters(turn.selected), "deselected": letters(turn.deselected)},
        "selection_before": letters(before),
        "selection_after": letters(after),
        "next_message": following["utterance"] if following else None,
        "game_end": game.end_reason if following is None else None,
    }


def _entry_counts(campaign, now) -> dict[int, dict[str, int]]:
    from datetime import timedelta

    from django.db.models import Count, Q

    from feedback.models import CampaignTurn

    expired = now - timedelta(minutes=campaign.claim_minutes)
    rows = CampaignTurn.objects.filter(campaign=campaign).annotate(
        done=Count("annotations", filter=Q(annotations__status="done")),
        claimed=Count("annotations", filter=Q(annotations__status="claimed", annotations__claimed_at__gt=expired)),
        skipped=Count("annotations", filter=Q(annotations__status="skipped")),
    ).values("pk", "done", "claimed", "skipped", "final_source")
    return {r["pk"]: r for r in rows}


def campaign_progress(campaign_id: int, *, now=None) -> dict:
    """A campaign's numbers: ``turns`` (sampled), ``needed`` (turns x overlap), ``done`` (submitted),
    ``claimed`` (live claims), ``skipped``, ``turns_complete`` (all annotations in), ``turns_final``
    (with a final label), ``needs_adjudication``, ``share_done`` and ``annotators`` (user -> submitted)."""
    from django.db.models import Count
    from django.utils import timezone

    from feedback.models import Annotation, AnnotationCampaign

    campaign = AnnotationCampaign.objects.get(pk=campaign_id)
    now = now or timezone.now()
    counts = _entry_counts(campaign, now)
    needed = len(counts) * campaign.annotators_per_turn
    done = sum(min(r["done"], campaign.annotators_per_turn) for r in counts.values())
    per_user = (
        Annotation.objects.filter(entry__campaign=campaign, status="done")
        .values("annotator__username").annotate(n=Count("id")).order_by("annotator__username")
    )
    return {
        "campaign_id": campaign.pk, "name": campaign.name, "status": campaign.status,
        "annotators_per_turn": campaign.annotators_per_turn, "turns": len(counts), "needed": needed,
        "done": done, "claimed": sum(r["claimed"] for r in counts.values()),
        "skipped": sum(r["skipped"] for r in counts.values()),
        "turns_complete": sum(1 for r in counts.values() if r["done"] >= campaign.annotators_per_turn),
        "turns_final": sum(1 for r in counts.values() if r["final_source"]),
        "needs_adjudication": len(adjudication_queue(campaign.pk)),
        "share_done": done / needed if needed else None,
        "annotators": {r["annotator__username"]: r["n"] for r in per_user},
    }


def campaigns_overview(*, open_only: bool = False) -> list[dict]:
    """Every campaign (newest first) with its progress."""
    from feedback.models import AnnotationCampaign

    rows = AnnotationCampaign.objects.all()
    if open_only:
        rows = rows.filter(status="open")
    return [campaign_progress(pk) for pk in rows.values_list("pk", flat=True)]


def _submitted_by_entry(campaign_id: int) -> dict[int, list]:
    from feedback.models import Annotation

    out: dict[int, list] = {}
    for a in Annotation.objects.filter(entry__campaign_id=campaign_id, status="done").select_related(
        "annotator"
    ).order_by("entry_id", "submitted_at", "pk"):
        out.setdefault(a.entry_id, []).append(a)
    return out


def campaign_agreement(campaign_id: int) -> dict:
    """Inter-annotator agreement over the campaign's submitted annotations: nominal Krippendorff's alpha
    and percent agreement for feedback and for correctness (turns with one annotation count as missing
    data), and Cohen's kappa when exactly two annotators labelled every turn that has two labels.
    Values are None when undefined (e.g. fewer than two annotations on any turn, or one value only)."""
    from feedback.domain.agreement import cohen_kappa, krippendorff_alpha, percent_agreement

    by_entry = _submitted_by_entry(campaign_id)
    out: dict = {"turns_with_overlap": sum(1 for anns in by_entry.values() if len(anns) >= 2)}
    pairs = [anns for anns in by_entry.values() if len(anns) == 2]
    raters = {frozenset(a.annotator_id for a in anns) for anns in pairs}
    two_raters = len(raters) == 1 and len(pairs) == out["turns_with_overlap"] and pairs
    for field in ("feedback", "correctness"):
        units = [[getattr(a, field) for a in anns] for anns in by_entry.values()]
        out[f"alpha_{field}"] = krippendorff_alpha(units)
        out[f"percent_{field}"] = percent_agreement(units)
        kappa = None
        if two_raters:
            first_id = min(next(iter(raters)))
            ordered = [sorted(anns, key=lambda a: a.annotator_id != first_id) for anns in pairs]
            kappa = cohen_kappa([getattr(p[0], field) for p in ordered], [getattr(p[1], field) for p in ordered])
        out[f"kappa_{field}"] = kappa
    return out


def adjudication_queue(campaign_id: int) -> list[dict]:
    """Turns with all their annotations in whose annotators disagree (on feedback, correctness or the
    gold action) and that staff have not adjudicated yet, in serving order."""
    from feedback.domain.agreement import final_label
    from feedback.models import AnnotationCampaign, CampaignTurn

    campaign = AnnotationCampaign.objects.get(pk=campaign_id)
    by_entry = _submitted_by_entry(campaign_id)
    out = []
    entries = CampaignTurn.objects.filter(campaign=campaign).exclude(final_source__in=["adjudicated", "imported"])
    for entry in entries.order_by("position"):
        anns = by_entry.get(entry.pk, [])
        if len(anns) < campaign.annotators_per_turn or len(anns) < 2:
            continue
        decision = final_label([_judgement(a) for a in anns])
        if decision.needs_adjudication:
            out.append({"entry_id": entry.pk, "position": entry.position, "turn_id": entry.turn_id,
                        "labels_agree": decision.agreed, "gold_agrees": decision.gold_agreed})
    return out


def _judgement(a):
    from feedback.domain.agreement import Judgement

    return Judgement(a.feedback, a.correctness, None if a.gold_selected is None else tuple(a.gold_selected),
                     None if a.gold_deselected is None else tuple(a.gold_deselected))


def adjudication_page(entry_id: int) -> dict:
    """What staff see to adjudicate one campaign turn: the turn as annotators see it (images in the
    listener's order, dialogue, action, next message), every submitted annotation, and the current
    final label."""
    from games.domain.rules import LETTERS

    from feedback.models import CampaignTurn

    entry = CampaignTurn.objects.select_related("campaign").get(pk=entry_id)
    anns = _submitted_by_entry(entry.campaign_id).get(entry.pk, [])
    context = turn_context(entry.turn_id)
    letter = {name: LETTERS[i] for i, name in enumerate(context["listener_order"])}
    return {
        "entry_id": entry.pk, "campaign_id": entry.campaign_id, "campaign": entry.campaign.name,
        "position": entry.position, "turn_id": entry.turn_id,
        "annotations": [
            {"annotator": a.annotator.username, "feedback": a.feedback, "correctness": a.correctness,
             "flags": list(a.flags), "note": a.note,
             "gold_selected": None if a.gold_selected is None else sorted(letter[n] for n in a.gold_selected),
             "gold_deselected": None if a.gold_deselected is None else sorted(letter[n] for n in a.gold_deselected)}
            for a in anns
        ],
        "final": {"feedback": entry.final_feedback, "correctness": entry.final_correctness,
                  "gold_selected": entry.final_gold_selected, "gold_deselected": entry.final_gold_deselected,
                  "source": entry.final_source},
        "selection_before": context["selection_before"],
        "listener_order": context["listener_order"],
    }


def annotation_truth(games: Sequence[Mapping]) -> dict[int, str]:
    """Ground truth "annotation" for decoder evaluation: turn id -> the final (agreed or adjudicated)
    human feedback label (positive / neutral / negative) of the turns of ``games`` that have one."""
    ids = [t["id"] for g in games for t in g["turns"]]
    return {turn_id: final.feedback for turn_id, final in final_annotations(ids).items() if final.feedback in CLASSES}
