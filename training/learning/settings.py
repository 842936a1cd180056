"""A system's training settings (``hyperparameters["training"]``), validated without loading torch
(the bot backend checks them when a system is created)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

# The study's numbers (reference/original-system.md §4.4), used by the objectives and the datasets.
PROBABILITY_FLOOR = 0.01  # π_old is clamped here before any ratio (the study's prob_poor_clamp_min)
SUP_SMOOTHING = 0.1
RL_SMOOTHING = 0.1
KTO_SMOOTHING = 0.01
RL_REWARDS = {"positive": 1.0, "negative": -0.1}
KTO_BETA = 0.5


class RetrainError(ValueError):
    """Settings or data that retraining cannot use (one-line reason)."""


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 10
    schedule: str = "cosine"  # or "constant"
    grad_clip: float = 1.0
    seed: int = 0
    log_every: int = 50

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be positive")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError("learning_rate must be a positive number")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError("schedule must be 'cosine' or 'constant'")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RetrainSettings(TrainConfig):
    """A system's ``hyperparameters["training"]``: the trainer's settings (``TrainConfig``, with defaults
    that fit the compact listener on a CPU) and the learning loop's own."""

    steps: int = 600
    learning_rate: float = 3e-3
    log_every: int = 25
    eval_every: int = 100
    held_out_share: float = 0.1
    # Checkpoint selection scores up to this many good listener actions of human–human study games (the
    # study's 390 turns); 0, or none played yet: a held-out slice of the system's own games instead.
    selection_turns: int = 390
    kto_beta: float = KTO_BETA
    shuffle_contexts: bool = True
    continue_from_previous: bool = False  # start from the last round's adapter instead of a fresh LoRA
    # Passes over the training rows, as the study trained (20 epochs on all data so far): when > 0, a run
    # takes ceil(epochs × rows / batch_size) steps, so the steps grow with the rounds; 0: ``steps``.
    epochs: float = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every", "log_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise RetrainError(f"training.{name} must be a whole number >= 1; got {value!r}")
        for name in ("learning_rate", "kto_beta"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
                raise RetrainError(f"training.{name} must be a positive number; got {value!r}")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, (int, float)) or not (
                self.epochs >= 0 and math.isfinite(self.epochs)):
            raise RetrainError(f"training.epochs must be a number >= 0; got {self.epochs!r}")
        if isinstance(self.selection_turns, bool) or not isinstance(self.selection_turns, int) or self.selection_turns < 0:
            raise RetrainError(f"training.selection_turns must be a whole number >= 0; got {self.selection_turns!r}")
        if not 0 <= self.held_out_share < 1:
            raise RetrainError(f"training.held_out_share must be in [0, 1); got {self.held_out_share!r}")
        if self.schedule not in ("cosine", "constant"):
            raise RetrainError("training.schedule must be 'cosine' or 'constant'")
        try:
            super().__post_init__()
        except ValueError as exc:
            raise RetrainError(f"training settings: {exc}") from None

    @classmethod
    def from_dict(cls, raw: Any) -> RetrainSettings:
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise RetrainError("training settings must be a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise RetrainError(f"unknown training settings: {', '.join(map(str, unknown))} (known: {', '.join(sorted(known))})")
        try:
            return cls(**dict(raw))
        except TypeError as exc:
            raise RetrainError(f"training settings: {exc}") from None

    def to_dict(self) -> dict:
        return asdict(self)

    def for_rows(self, rows: int) -> RetrainSettings:
        """These settings with the number of steps fixed for ``rows`` training rows: ``epochs`` passes
        (at least one step) when ``epochs`` is set, else unchanged."""
        if not self.epochs:
            return self
        return replace(self, steps=max(1, math.ceil(self.epochs * rows / self.batch_size)), epochs=0)


__all__ = [
    "PROBABILITY_FLOOR", "SUP_SMOOTHING", "RL_SMOOTHING", "KTO_SMOOTHING", "RL_REWARDS", "KTO_BETA",
    "RetrainError", "RetrainSettings",
]
