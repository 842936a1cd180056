"""The listener policy interface and its request/response types (pure; no Django).

Image ids in requests are tangram names; ``listener_order`` is the listener's screen order, which
is also the order a model letters A-J.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class PastTurn:
    selection_before: frozenset[str]
    utterance: str
    select: frozenset[str]
    deselect: frozenset[str]


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
    utterance_sent_at: datetime | None = None
    min_delay_seconds: float = 0.0


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
    name: str

    def act(self, requests: Sequence[ActRequest]) -> list[ActResult]: ...


class ScoringPolicy(Policy, Protocol):
    """A policy that can also give the log-probability of given actions (model backends)."""

    def score(self, examples: Sequence[ScoreExample]) -> list[float]: ...
