"""Means with percentile bootstrap confidence intervals, and summaries of games (success rate and
turns), pure: the one copy for every app (simulation commands, checkpoint evaluation, benchmarks)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def bootstrap_ci(values: Sequence[float], *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Estimate:
    """Mean of ``values`` with a percentile bootstrap confidence interval."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values to summarise")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(n_boot, data.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Estimate(float(data.mean()), float(low), float(high))


@dataclass(frozen=True)
class Summary:
    games: int
    success: Estimate
    turns: Estimate

    def line(self) -> str:
        return (f"{self.games} games: success {self.success.mean:.1%} "
                f"[{self.success.low:.1%}, {self.success.high:.1%}], "
                f"turns {self.turns.mean:.2f} [{self.turns.low:.2f}, {self.turns.high:.2f}] (95% bootstrap CIs)")


def summarise(outcomes: Sequence[tuple[bool, int]], *, seed: int = 0) -> Summary:
    """``outcomes``: (succeeded, number of turns) per game."""
    if not outcomes:
        raise ValueError("no games to summarise")
    return Summary(
        games=len(outcomes),
        success=bootstrap_ci([1.0 if ok else 0.0 for ok, _ in outcomes], seed=seed),
        turns=bootstrap_ci([float(n) for _, n in outcomes], seed=seed + 1),
    )
