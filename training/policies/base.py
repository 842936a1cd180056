"""The listener policy interface and its request/response types (pure; no Django).

Image ids in requests are tangram names; ``listener_order`` is the listener's screen order, which
is also the order a model letters A-J.
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from games.domain.rules import GameState, PastTurn

DECODING_MODES = ("restricted", "constrained")


def check_temperature(value: Any, *, allow_zero: bool = False) -> None:
    """A sampling temperature: a finite number, positive (or also 0, meaning greedy, where allowed);
    ValueError otherwise (a bool is not a number here)."""
    ok = (
        not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        raise ValueError(f"temperature must be a {'non-negative' if allow_zero else 'positive'} number")



@dataclass(frozen=True)
class DecodingSettings:
    """A system's decoding choices for model listeners (``System.hyperparameters["decoding"]``);
    None leaves the policy's own default. Baselines ignore them. Hashable: batches group by them."""

    temperature: float | None = None
    mode: str | None = None  # "restricted" (vocabulary-restricted sampling) or "constrained" (grammar)

    def __post_init__(self) -> None:
        if self.temperature is not None:
            try:
                check_temperature(self.temperature)
            except ValueError:
                raise ValueError(f"decoding temperature must be a positive number; got {self.temperature!r}") from None
        if self.mode is not None and self.mode not in DECODING_MODES:
            raise ValueError(f"decoding mode must be one of {', '.join(DECODING_MODES)}; got {self.mode!r}")

    @classmethod
    def from_dict(cls, raw: Any) -> DecodingSettings:
        """From the JSON a system stores; ValueError (one line) for anything else."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ValueError(f"decoding must be an object like {{\"temperature\": 1.0, \"mode\": \"restricted\"}}; got {raw!r}")
        unknown = sorted(set(raw) - {"temperature", "mode"})
        if unknown:
            raise ValueError(f"unknown decoding settings: {', '.join(map(str, unknown))} (known: temperature, mode)")
        temperature = raw.get("temperature")
        if isinstance(temperature, int) and not isinstance(temperature, bool):
            temperature = float(temperature)
        return cls(temperature=temperature, mode=raw.get("mode"))

    def to_dict(self) -> dict:
        return {k: v for k, v in (("temperature", self.temperature), ("mode", self.mode)) if v is not None}


def decoding_from_hyperparameters(hyperparameters: Any) -> DecodingSettings:
    """The ``decoding`` entry of a system's hyperparameters (absent: the policy's defaults)."""
    if hyperparameters is None:
        return DecodingSettings()
    if not isinstance(hyperparameters, Mapping):
        raise ValueError("hyperparameters must be a JSON object")
    return DecodingSettings.from_dict(hyperparameters.get("decoding"))


@dataclass(frozen=True)
class ActRequest:
    interaction_id: int
    turn: int
    listener_order: tuple[str, ...]
    history: tuple[PastTurn, ...]
    utterance: str
    selection: frozenset[str]
    targets: frozenset[str] | None = None  # only ever filled in for the oracle baseline
    listener_kind: str = "model"
    checkpoint_id: int | None = None
    show_at: datetime | None = None  # a bot game's: its answer is not shown before then (display delay)
    decoding: DecodingSettings = DecodingSettings()  # the system's settings; model backends honour them

    @classmethod
    def for_state(cls, state: GameState, *, listener_order: Sequence[str], utterance: str, **fields: Any) -> ActRequest:
        """The request for the turn ``state`` is at: its history, selection and turn number come from
        the one game progression (``GameState``), so every driver builds requests the same way."""
        return cls(
            turn=state.turn, listener_order=tuple(listener_order), history=state.history, utterance=utterance,
            selection=state.selection, **{"interaction_id": 0, **fields},
        )


@dataclass(frozen=True)
class ActResult:
    """An action consistent with the request's selection, and how it was produced."""

    select: frozenset[str]
    deselect: frozenset[str]
    raw_output: str
    probability: float | None
    source: str  # a Turn.ActionSource value
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreExample:
    """A given action (image ids) for a request, to be scored by teacher forcing."""

    request: ActRequest
    select: frozenset[str]
    deselect: frozenset[str]


class Policy(Protocol):
    """``act`` answers every request, in order. Optional: ``batch_lane`` (hashable), the resource
    the policy computes on (e.g. its loaded base model): the inference service runs one thread per
    lane, so policies sharing a base never compute at once. Without it the service uses the
    policy's ``base`` object if it has one, else the policy itself."""

    name: str

    def act(self, requests: Sequence[ActRequest]) -> list[ActResult]: ...


def batch_lane(policy: object) -> Hashable:
    """The lane a policy's batches run on (see ``Policy``)."""
    lane = getattr(policy, "batch_lane", None)
    if lane is not None:
        return lane
    base = getattr(policy, "base", None)
    return ("base", id(base)) if base is not None else ("policy", id(policy))


class ScoringPolicy(Policy, Protocol):
    """A policy that can also give the log-probability of given actions (model backends)."""

    def score(self, examples: Sequence[ScoreExample]) -> list[float]: ...


class TrainTerms(NamedTuple):
    """What the retraining objectives need of a batch, per example (torch tensors, differentiable)."""

    logp: Any  # log π(a) of the given action
    length: Any  # the action's length normaliser N (answer tokens; 1 for a single distribution over actions)
    smoothing: Any  # S: cross-entropy of the policy's output against a uniform distribution, per example
    greedy: Any  # bool: the action is the policy's most likely answer (what temperature-0 decoding gives)


class TrainablePolicy(ScoringPolicy, Protocol):
    """A model backend that can be trained: ``train_terms`` under a given module (the peft model being
    trained, in train mode)."""

    def train_terms(self, model: Any, examples: Sequence[ScoreExample]) -> TrainTerms: ...
