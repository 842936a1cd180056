"""Means with percentile bootstrap confidence intervals, and summaries of games (success rate and
turns), pure: the one copy for every app (simulation commands, checkpoint evaluation, benchmarks)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


_BLOCK = 2_000_000  # values resampled at once


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
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    rng = np.random.default_rng(seed)
    # Resamples are drawn in blocks of rows (the same random stream as one (n_boot, n) draw), so that
    # 10,000 resamples of thousands of values (every click of a round) stay within a few tens of MB.
    rows = max(1, _BLOCK // data.size)
    means = np.concatenate([
        data[rng.integers(0, data.size, size=(min(rows, n_boot - start), data.size))].mean(axis=1)
        for start in range(0, n_boot, rows)
    ])
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
