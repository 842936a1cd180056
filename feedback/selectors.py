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
