"""Scoring a decoder against a ground truth, from (label, truth) pairs (pure).

A pair is ``(label, truth)``: ``label`` is what the decoder said (positive / neutral / negative,
``unparsed``, or None when the turn got no label), ``truth`` the reference (positive / neutral /
negative, or None when there is none: such pairs are not counted). Any source of truth - the
simulator's intent, annotations, the target-derived action quality - plugs in as pairs.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from feedback.domain.labels import CLASSES, UNPARSED

MISSING = "missing"  # the turn has no label
COLUMNS = (*CLASSES, UNPARSED, MISSING)


@dataclass(frozen=True)
class ClassMetrics:
    label: str
    precision: float | None  # None when the decoder never predicted the class
    recall: float | None  # None when the truth never has the class
    f1: float | None
    support: int  # turns whose truth is this class
    predicted: int  # turns labelled this class

    def to_dict(self) -> dict:
        return {
            "label": self.label, "precision": self.precision, "recall": self.recall, "f1": self.f1,
            "support": self.support, "predicted": self.predicted,
        }


@dataclass(frozen=True)
class Evaluation:
    """Counts and scores over the pairs that have a truth.

    ``confusion[truth][column]`` counts turns by truth (rows: the classes) and decoder output
    (columns: the classes, then ``unparsed`` and ``missing``). Precision and recall are over labelled
    turns only (a class label); ``coverage`` is the share of turns that got one.
    """

    classes: tuple[str, ...]
    total: int
    labelled: int
    unparsed: int
    missing: int
    confusion: dict[str, dict[str, int]]
    per_class: dict[str, ClassMetrics] = field(default_factory=dict)

    @property
    def coverage(self) -> float | None:
        return self.labelled / self.total if self.total else None

    @property
    def accuracy(self) -> float | None:
        right = sum(self.confusion[c][c] for c in self.classes)
        return right / self.labelled if self.labelled else None

    def to_dict(self) -> dict:
        return {
            "classes": list(self.classes), "total": self.total, "labelled": self.labelled, "unparsed": self.unparsed,
            "missing": self.missing, "coverage": self.coverage, "accuracy": self.accuracy,
            "confusion": {row: dict(cols) for row, cols in self.confusion.items()},
            "per_class": {c: m.to_dict() for c, m in self.per_class.items()},
        }


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def evaluate(pairs: Iterable[tuple[str | None, str | None]], classes: Sequence[str] = CLASSES) -> Evaluation:
    classes = tuple(classes)
    confusion = {row: {col: 0 for col in (*classes, UNPARSED, MISSING)} for row in classes}
    for label, truth in pairs:
        if truth is None:
            continue
        if truth not in confusion:
            raise ValueError(f"unknown truth value {truth!r} (expected one of {', '.join(classes)})")
        if label is None:
            column = MISSING
        elif label in classes or label == UNPARSED:
            column = label
        else:
            raise ValueError(f"unknown label {label!r}")
        confusion[truth][column] += 1
    total = sum(sum(row.values()) for row in confusion.values())
    unparsed = sum(row[UNPARSED] for row in confusion.values())
    missing = sum(row[MISSING] for row in confusion.values())
    per_class = {}
    for c in classes:
        tp = confusion[c][c]
        predicted = sum(confusion[r][c] for r in classes)
        support = sum(confusion[c][k] for k in classes)  # labelled turns whose truth is c
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        if precision is None or recall is None:
            f1 = None
        else:
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[c] = ClassMetrics(c, precision, recall, f1, support, predicted)
    return Evaluation(
        classes=classes, total=total, labelled=total - unparsed - missing, unparsed=unparsed, missing=missing,
        confusion=confusion, per_class=per_class,
    )


def _fmt(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def format_evaluation(ev: Evaluation) -> list[str]:
    """Plain-text tables: per-class precision / recall / F1, then the confusion matrix."""
    cov = "-" if ev.coverage is None else f"{ev.coverage:.1%}"
    acc = "-" if ev.accuracy is None else f"{ev.accuracy:.3f}"
    lines = [f"turns {ev.total}, labelled {ev.labelled} ({cov}), unparsed {ev.unparsed}, no label {ev.missing}, "
             f"accuracy {acc}"]
    lines.append(f"  {'class':<9} {'prec':>6} {'recall':>6} {'F1':>6} {'support':>8} {'predicted':>9}")
    for c in ev.classes:
        m = ev.per_class[c]
        lines.append(f"  {c:<9} {_fmt(m.precision)} {_fmt(m.recall)} {_fmt(m.f1)} {m.support:>8} {m.predicted:>9}")
    cols = (*ev.classes, UNPARSED, MISSING)
    lines.append("  truth \\ label " + " ".join(f"{c:>9}" for c in cols))
    for row in ev.classes:
        lines.append(f"  {row:<13} " + " ".join(f"{ev.confusion[row][c]:>9}" for c in cols))
    return lines


__all__ = ["MISSING", "COLUMNS", "ClassMetrics", "Evaluation", "evaluate", "format_evaluation"]
