"""The study report's tables, computed from plain records (pure: no Django).

One row per round and system in every table but the confusion and loss tables (long format). The
service (``training/services/report.py``) reads the records through the apps' selectors; the
definitions of each column are in ``docs/report.md``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields

from feedback.domain.labels import BINARY_CLASSES, CLASSES, NEUTRAL, UNPARSED, to_binary
from feedback.domain.metrics import MISSING, Evaluation, evaluate
from games.domain.language import language_stats
from games.domain.similarity import Similarity, action_similarity
from games.domain.stats import bootstrap_ci

DEFAULT_RESAMPLES = 10_000
VIEWS = {"binary": BINARY_CLASSES, "ternary": CLASSES}


def columns(row_type) -> list[str]:
    return [f.name for f in fields(row_type)]


def as_dicts(rows: Iterable) -> list[dict]:
    return [asdict(r) for r in rows]


# --- games: success, turns, click accuracy --------------------------------------------------------------


@dataclass(frozen=True)
class GameRecord:
    """One ended game: its outcome, one bool per toggled image (``games.domain.rules.click_outcomes``
    of every turn) and the speaker's utterances."""

    succeeded: bool
    turns: int
    clicks: tuple[bool, ...] = ()
    utterances: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutcomeRow:
    round: int
    system: str
    games: int
    interactions_before: int
    success: float
    success_low: float
    success_high: float
    turns: float
    turns_low: float
    turns_high: float
    clicks: int
    click_accuracy: float | None
    click_low: float | None
    click_high: float | None


def outcome_row(
    round_number: int, system: str, games: Sequence[GameRecord], *, interactions_before: int = 0,
    resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
) -> OutcomeRow | None:
    """Success rate and turns per game (bootstrap over games) and micro click accuracy (bootstrap
    over clicks), each a mean with a 95% percentile bootstrap CI; None without games."""
    if not games:
        return None
    success = bootstrap_ci([1.0 if g.succeeded else 0.0 for g in games], n_boot=resamples, seed=seed)
    turns = bootstrap_ci([float(g.turns) for g in games], n_boot=resamples, seed=seed)
    clicks = [1.0 if c else 0.0 for g in games for c in g.clicks]
    click = bootstrap_ci(clicks, n_boot=resamples, seed=seed) if clicks else None
    return OutcomeRow(
        round=round_number, system=system, games=len(games), interactions_before=interactions_before,
        success=success.mean, success_low=success.low, success_high=success.high,
        turns=turns.mean, turns_low=turns.low, turns_high=turns.high, clicks=len(clicks),
        click_accuracy=click.mean if click else None, click_low=click.low if click else None,
        click_high=click.high if click else None,
    )


# --- language -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LanguageRow:
    round: int
    system: str
    games: int
    utterances: int
    tokens: int
    vocabulary: int
    mean_length: float | None
    type_token_ratio: float | None
    reset_mentions: int
    try_again_mentions: int


def language_row(round_number: int, system: str, games: Sequence[GameRecord]) -> LanguageRow:
    """``games.domain.language.language_stats`` of every utterance of the games."""
    stats = language_stats(u for g in games for u in g.utterances)
    return LanguageRow(
        round=round_number, system=system, games=len(games), utterances=stats.utterances, tokens=stats.tokens,
        vocabulary=stats.vocabulary, mean_length=stats.mean_length, type_token_ratio=stats.type_token_ratio,
        reset_mentions=stats.reset_mentions, try_again_mentions=stats.try_again_mentions,
    )


# --- human annotations: exact match, similarity -------------------------------------------------------


@dataclass(frozen=True)
class AnnotatedTurn:
    """A model turn with its final human label: the action taken and the gold action (None: no gold
    action was given)."""

    selected: frozenset[str]
    deselected: frozenset[str]
    feedback: str  # positive / neutral / negative
    correctness: str  # yes / partial / no
    gold_selected: frozenset[str] | None = None
    gold_deselected: frozenset[str] | None = None

    @property
    def has_gold(self) -> bool:
        return self.gold_selected is not None or self.gold_deselected is not None

    @property
    def gold(self) -> tuple[frozenset[str], frozenset[str]]:
        return frozenset(self.gold_selected or ()), frozenset(self.gold_deselected or ())


@dataclass(frozen=True)
class AnnotationRow:
    round: int
    system: str
    annotated: int
    correct_yes: float
    correct_yes_low: float
    correct_yes_high: float
    positive_feedback: float
    gold_actions: int
    exact_match: float | None
    exact_match_low: float | None
    exact_match_high: float | None
    similarity: float | None
    similarity_low: float | None
    similarity_high: float | None
    similarity_not_positive: float | None


def annotation_row(
    round_number: int, system: str, turns: Sequence[AnnotatedTurn], similarity: Similarity, *,
    resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
) -> AnnotationRow | None:
    """The annotators' verdicts on the model's actions; None without annotated turns."""
    if not turns:
        return None
    yes = bootstrap_ci([1.0 if t.correctness == "yes" else 0.0 for t in turns], n_boot=resamples, seed=seed)
    gold = [t for t in turns if t.has_gold]
    exact = [1.0 if (t.selected, t.deselected) == t.gold else 0.0 for t in gold]
    sims = [action_similarity(t.selected, t.deselected, *t.gold, similarity) for t in gold]
    not_positive = [s for t, s in zip(gold, sims) if t.feedback != "positive"]
    e = bootstrap_ci(exact, n_boot=resamples, seed=seed) if gold else None
    s = bootstrap_ci(sims, n_boot=resamples, seed=seed) if gold else None
    return AnnotationRow(
        round=round_number, system=system, annotated=len(turns),
        correct_yes=yes.mean, correct_yes_low=yes.low, correct_yes_high=yes.high,
        positive_feedback=sum(1 for t in turns if t.feedback == "positive") / len(turns), gold_actions=len(gold),
        exact_match=e.mean if e else None, exact_match_low=e.low if e else None, exact_match_high=e.high if e else None,
        similarity=s.mean if s else None, similarity_low=s.low if s else None, similarity_high=s.high if s else None,
        similarity_not_positive=sum(not_positive) / len(not_positive) if not_positive else None,
    )


# --- decoders against annotations ----------------------------------------------------------------------


@dataclass(frozen=True)
class DecoderRow:
    round: int
    system: str
    decoder: str
    version: str
    view: str  # binary / ternary
    turns: int  # annotated turns scored (with or without a label)
    labelled: int
    coverage: float | None
    accuracy: float | None
    positive_precision: float | None
    positive_recall: float | None
    positive_f1: float | None
    positive_support: int
    neutral_precision: float | None
    neutral_recall: float | None
    neutral_f1: float | None
    neutral_support: int | None
    negative_precision: float | None
    negative_recall: float | None
    negative_f1: float | None
    negative_support: int


@dataclass(frozen=True)
class ConfusionCell:
    round: int
    system: str
    decoder: str
    version: str
    view: str
    truth: str
    label: str  # a class, unparsed or missing
    count: int
    share: float | None  # count / all scored turns of the matrix (the grand total)


def view_pairs(pairs: Iterable[tuple[str | None, str | None]], view: str) -> list[tuple[str | None, str | None]]:
    """(label, truth) pairs in a view: ternary as they are; binary with neutral read as negative on
    both sides (``feedback.domain.labels.to_binary``)."""
    if view == "ternary":
        return list(pairs)
    if view != "binary":
        raise ValueError(f"unknown view {view!r}")
    return [(to_binary(l) if l is not None else None, to_binary(t) if t is not None else None) for l, t in pairs]


def decoder_tables(
    round_number: int, system: str, decoder: str, version: str, pairs: Sequence[tuple[str | None, str]],
) -> tuple[list[DecoderRow], list[ConfusionCell], dict[str, Evaluation]]:
    """One decoder's labels (``label`` per annotated turn, None when the turn has none) against the
    annotators' feedback, in the binary and the ternary view: scores, confusion cells, evaluations."""
    rows, cells, evaluations = [], [], {}
    for view, classes in VIEWS.items():
        ev = evaluate(view_pairs(pairs, view), classes)
        evaluations[view] = ev
        m = ev.per_class
        neutral = m.get(NEUTRAL)
        rows.append(DecoderRow(
            round=round_number, system=system, decoder=decoder, version=version, view=view, turns=ev.total,
            labelled=ev.labelled, coverage=ev.coverage, accuracy=ev.accuracy,
            positive_precision=m["positive"].precision, positive_recall=m["positive"].recall,
            positive_f1=m["positive"].f1, positive_support=m["positive"].support,
            neutral_precision=neutral.precision if neutral else None, neutral_recall=neutral.recall if neutral else None,
            neutral_f1=neutral.f1 if neutral else None, neutral_support=neutral.support if neutral else None,
            negative_precision=m["negative"].precision, negative_recall=m["negative"].recall,
            negative_f1=m["negative"].f1, negative_support=m["negative"].support,
        ))
        for truth in classes:
            for label in (*classes, UNPARSED, MISSING):
                count = ev.confusion[truth][label]
                cells.append(ConfusionCell(
                    round=round_number, system=system, decoder=decoder, version=version, view=view, truth=truth,
                    label=label, count=count, share=count / ev.total if ev.total else None,
                ))
    return rows, cells, evaluations


# --- training runs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingRow:
    round: int
    system: str
    objective: str
    status: str
    rows: int | None
    held_out_rows: int | None
    seed_rows: int | None
    interaction_rows: int | None
    logged_turns: int | None
    steps: int
    first_loss: float | None
    last_loss: float | None
    seconds: float | None


@dataclass(frozen=True)
class CurvePoint:
    round: int
    system: str
    curve: str  # train_loss / held_out
    step: int
    value: float


def training_tables(run: dict) -> tuple[TrainingRow, list[CurvePoint]]:
    """A training run (``training.selectors.training_runs`` dict) as a row and its curve points."""
    stats = run.get("dataset_stats") or {}
    loss = [(int(s), float(v)) for s, v in run.get("loss_curve") or []]
    held = [(int(s), float(v)) for s, v in run.get("held_out_curve") or []]
    row = TrainingRow(
        round=run["round"], system=run["system"], objective=run["objective"], status=run["status"],
        rows=stats.get("rows"), held_out_rows=stats.get("held_out_rows"), seed_rows=stats.get("seed_rows"),
        interaction_rows=stats.get("interaction_rows"), logged_turns=stats.get("logged_turns"),
        steps=loss[-1][0] if loss else 0, first_loss=loss[0][1] if loss else None,
        last_loss=loss[-1][1] if loss else None, seconds=run.get("seconds"),
    )
    points = [CurvePoint(run["round"], run["system"], "train_loss", s, v) for s, v in loss]
    points += [CurvePoint(run["round"], run["system"], "held_out", s, v) for s, v in held]
    return row, points


# --- the whole report ---------------------------------------------------------------------------------------


@dataclass
class ReportTables:
    outcomes: list[OutcomeRow]
    language: list[LanguageRow]
    annotations: list[AnnotationRow]
    decoders: list[DecoderRow]
    confusion: list[ConfusionCell]
    training: list[TrainingRow]
    losses: list[CurvePoint]

    # name -> (row type, title); the order of the report's CSV files and dashboard sections.
    SPEC = {
        "outcomes": (OutcomeRow, "Success, turns per game and click accuracy (95% bootstrap CIs)"),
        "language": (LanguageRow, "Language per round and system"),
        "annotations": (AnnotationRow, "The model's actions against the final human labels"),
        "decoders": (DecoderRow, "Feedback decoders against the annotators' feedback"),
        "confusion": (ConfusionCell, "Decoder confusion matrices (long format)"),
        "training": (TrainingRow, "Training runs after each round"),
        "losses": (CurvePoint, "Training curves (long format)"),
    }

    def named(self) -> list[tuple[str, str, list[str], list[dict]]]:
        """(name, title, columns, rows) of every table, in report order."""
        return [(name, title, columns(kind), as_dicts(getattr(self, name))) for name, (kind, title) in self.SPEC.items()]


__all__ = [
    "DEFAULT_RESAMPLES", "VIEWS", "GameRecord", "OutcomeRow", "outcome_row", "LanguageRow", "language_row",
    "AnnotatedTurn", "AnnotationRow", "annotation_row", "DecoderRow", "ConfusionCell", "view_pairs", "decoder_tables",
    "TrainingRow", "CurvePoint", "training_tables", "ReportTables", "columns", "as_dicts",
]
