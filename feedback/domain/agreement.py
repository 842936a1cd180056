"""Post-hoc annotation rules (pure): the stratified sample, gold actions from clicks, the final label of a
turn, and inter-annotator agreement (Krippendorff's alpha, Cohen's kappa)."""
from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import krippendorff
import numpy as np

from games.domain.seeds import derive_seed

# ----------------------------------------------------------------------------- the sample


def allocate(sizes: Mapping[Hashable, int], n: int) -> dict[Hashable, int]:
    """Turns to draw per stratum: proportional to the stratum's size (largest remainders), at least
    one per non-empty stratum when ``n`` covers them all, never more than a stratum holds, ``min(n, total)``
    in all. Deterministic (ties go to the stratum first in sorted order)."""
    if n < 1:
        raise ValueError("sample size must be at least 1")
    keys = sorted((k for k, size in sizes.items() if size > 0), key=str)
    total = sum(sizes[k] for k in keys)
    n = min(n, total)
    if not keys:
        return {}
    quota = {k: n * sizes[k] / total for k in keys}
    floor = 1 if n >= len(keys) else 0
    alloc = {k: min(sizes[k], max(floor, math.floor(quota[k]))) for k in keys}
    while sum(alloc.values()) < n:  # the largest shortfall (with room left) gets one more
        k = max((k for k in keys if alloc[k] < sizes[k]), key=lambda k: (quota[k] - alloc[k], -keys.index(k)))
        alloc[k] += 1
    while sum(alloc.values()) > n:  # the minimums overshot: the most over-served gives one back
        k = max((k for k in keys if alloc[k] > floor), key=lambda k: (alloc[k] - quota[k], -keys.index(k)))
        alloc[k] -= 1
    return {k: v for k, v in alloc.items() if v}


def stratified_sample(strata: Mapping[str, Sequence[int]], n: int, seed: int) -> list[tuple[int, str]]:
    """(item, stratum) pairs: ``allocate``'s count drawn at random (seeded per stratum) from each stratum,
    then served in a seeded shuffle. The same strata, size and seed give the same sample and order."""
    counts = allocate({k: len(v) for k, v in strata.items()}, n)
    chosen: list[tuple[int, str]] = []
    for key in sorted(counts):
        items = sorted(strata[key])
        rng = random.Random(derive_seed("annotation-sample", seed, key))
        chosen += [(item, key) for item in sorted(rng.sample(items, counts[key]))]
    chosen.sort()
    random.Random(derive_seed("annotation-order", seed)).shuffle(chosen)
    return chosen


# ----------------------------------------------------------------------------- gold actions and final labels


def gold_action_from_clicks(clicked: Iterable[str], selection_before: Iterable[str]) -> tuple[list[str], list[str]]:
    """(gold selections, gold deselections) from the images an annotator clicked: a clicked image that
    was selected before the turn is to be deselected, any other is to be selected (the original study's
    ``overwrite_clicks_with_ann``). Sorted lists."""
    before = set(selection_before)
    clicked = set(clicked)
    return sorted(clicked - before), sorted(clicked & before)


@dataclass(frozen=True)
class Judgement:
    """One submitted annotation, as the final-label rule sees it."""

    feedback: str
    correctness: str
    gold_selected: tuple[str, ...] | None = None  # None: no gold action given
    gold_deselected: tuple[str, ...] | None = None

    @property
    def gold(self) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        if self.gold_selected is None and self.gold_deselected is None:
            return None
        return tuple(sorted(self.gold_selected or ())), tuple(sorted(self.gold_deselected or ()))


@dataclass(frozen=True)
class FinalLabel:
    """The outcome of a turn's annotations: ``agreed`` (feedback and correctness the same for all),
    ``gold_agreed`` (every gold action the same, including all "none given")."""

    agreed: bool
    feedback: str | None
    correctness: str | None
    gold_agreed: bool
    gold_selected: list[str] | None
    gold_deselected: list[str] | None

    @property
    def needs_adjudication(self) -> bool:
        return not (self.agreed and self.gold_agreed)


def final_label(judgements: Sequence[Judgement]) -> FinalLabel:
    """The final label of a turn from all its annotations: when everyone agrees on feedback and
    correctness, that label; the gold action is kept when everyone gave the same one (or none)."""
    if not judgements:
        raise ValueError("no annotations to decide from")
    agreed = len({(j.feedback, j.correctness) for j in judgements}) == 1
    golds = {j.gold for j in judgements}
    gold_agreed = len(golds) == 1
    gold = next(iter(golds)) if gold_agreed else None
    first = judgements[0]
    return FinalLabel(
        agreed=agreed,
        feedback=first.feedback if agreed else None,
        correctness=first.correctness if agreed else None,
        gold_agreed=gold_agreed,
        gold_selected=list(gold[0]) if gold is not None else None,
        gold_deselected=list(gold[1]) if gold is not None else None,
    )


# ----------------------------------------------------------------------------- agreement


def krippendorff_alpha(units: Sequence[Sequence[Hashable | None]]) -> float | None:
    """Nominal Krippendorff's alpha. ``units``: per unit (turn), the values its annotators gave (None or a
    shorter list = missing). None when it is undefined: fewer than two pairable values, or one value only."""
    values = sorted({v for unit in units for v in unit if v is not None}, key=str)
    pairable = sum(1 for unit in units if sum(v is not None for v in unit) >= 2)
    if len(values) < 2 or pairable == 0:
        return None
    code = {v: i for i, v in enumerate(values)}
    width = max(len(unit) for unit in units)
    data = np.full((width, len(units)), np.nan)  # coders x units; which column a coder gets does not matter
    for u, unit in enumerate(units):
        for c, v in enumerate(unit):
            if v is not None:
                data[c, u] = code[v]
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal",
                                     value_domain=list(range(len(values)))))


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two annotators who labelled the same items (paired lists); None when undefined
    (no items, or chance agreement of 1)."""
    if len(first) != len(second):
        raise ValueError("the two annotators must label the same items")
    n = len(first)
    if n == 0:
        return None
    observed = sum(a == b for a, b in zip(first, second)) / n
    ca, cb = Counter(first), Counter(second)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def percent_agreement(units: Sequence[Sequence[Hashable | None]]) -> float | None:
    """Share of units with two or more values whose values are all the same."""
    full = [[v for v in unit if v is not None] for unit in units]
    full = [unit for unit in full if len(unit) >= 2]
    if not full:
        return None
    return sum(len(set(unit)) == 1 for unit in full) / len(full)


__all__ = [
    "allocate", "stratified_sample", "gold_action_from_clicks", "Judgement", "FinalLabel", "final_label",
    "krippendorff_alpha", "cohen_kappa", "percent_agreement",
]
