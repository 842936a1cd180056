"""Baseline listeners: sanity checks and test partners behind the Policy interface."""
from __future__ import annotations

import random
from collections.abc import Sequence

from training.policies.base import ActRequest, ActResult


class OraclePolicy:
    """Toggles exactly what is needed to reach the targets: every game succeeds on turn 1."""

    name = "oracle"

    def act(self, requests: Sequence[ActRequest]) -> list[ActResult]:
        results = []
        for request in requests:
            if request.targets is None:
                raise ValueError("the oracle needs the targets")
            select = request.targets - request.selection
            deselect = request.selection - request.targets
            raw = f"deselect {len(deselect)} select {len(select)}"
            results.append(ActResult(select=frozenset(select), deselect=frozenset(deselect), raw_output=raw,
                                     probability=1.0, source="baseline"))
        return results


class RandomPolicy:
    """One or two random toggles of the listener's images, ignoring the dialogue.

    Each answer is drawn from a generator seeded by (seed, interaction, turn), so a game's random
    moves are reproducible whatever the order or batching in which turns arrive."""

    name = "random"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def act(self, requests: Sequence[ActRequest]) -> list[ActResult]:
        results = []
        for request in requests:
            rng = random.Random(f"{self.seed}:{request.interaction_id}:{request.turn}")
            k = rng.choice((1, 2))
            toggled = frozenset(rng.sample(request.listener_order, k))
            n = len(request.listener_order)
            probability = 1 / 2 * (1 / n if k == 1 else 2 / (n * (n - 1)))
            results.append(ActResult(
                select=toggled - request.selection, deselect=toggled & request.selection,
                raw_output=f"toggle {' '.join(sorted(toggled))}", probability=probability, source="baseline",
            ))
        return results
