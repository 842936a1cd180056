"""Whole games in memory (pure; no database): a simulated speaker and a listener, under the rules.

Fast enough for thousands of games a minute; used for seed data, for training a listener on the
simulated speaker's language, and for quick measurements.
"""
from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from games.domain import rules
from games.simulation.listener import ListenerTurn, SimulatedHumanListener
from games.simulation.speaker import SimulatedSpeaker, SpeakerContext, SpeakerMove, SpeakerStyle


class Listener(Protocol):
    def act(self, utterance: str, selection: frozenset[str], history: Sequence[ListenerTurn]) -> rules.Action: ...


@dataclass(frozen=True)
class SimulatedTurn:
    index: int  # 0-based
    utterance: str
    selection_before: frozenset[str]
    action: rules.Action
    selection_after: frozenset[str]
    intent: SpeakerMove  # what the speaker meant with this turn's utterance


@dataclass(frozen=True)
class GameResult:
    turns: tuple[SimulatedTurn, ...]
    success: bool

    @property
    def turn_count(self) -> int:
        return len(self.turns)


def derive_seed(*parts: object) -> int:
    """A seed from several parts (stable across runs and platforms, unlike ``hash``)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def simulate_game_in_memory(
    context: SpeakerContext,
    speaker_style: SpeakerStyle | None = None,
    listener: Listener | None = None,
    seed: int = 0,
    *,
    listener_order: Sequence[str] | None = None,
    listener_accuracy: float = 0.85,
) -> list[SimulatedTurn]:
    """Play one game to its end (success or the turn limit); returns its turns.

    Without a ``listener``, a ``SimulatedHumanListener`` with ``listener_accuracy`` plays, its
    screen order ``listener_order`` (default: a seeded shuffle of the images). Deterministic under
    ``seed`` (for a given listener state).
    """
    speaker = SimulatedSpeaker(context, speaker_style, seed=derive_seed(seed, "speaker"))
    if listener is None:
        order = list(listener_order) if listener_order is not None else list(context.images)
        if listener_order is None:
            random.Random(derive_seed(seed, "order")).shuffle(order)
        listener = SimulatedHumanListener(order, context.figures, accuracy=listener_accuracy,
                                          seed=derive_seed(seed, "listener"), descriptions=context.descriptions)
    state = rules.GameState(targets=context.targets, context=frozenset(context.images))
    history: list[ListenerTurn] = []
    turns: list[SimulatedTurn] = []
    move = speaker.first_move()
    while True:
        before = state.selection
        action = listener.act(move.text, before, tuple(history))
        action, _ = rules.clean_action(action, before)
        result = state.submit(action)
        turns.append(SimulatedTurn(len(turns), move.text, before, action, result.selection_after, move))
        history.append(ListenerTurn(move.text, action))
        if result.ended:
            return turns
        move = speaker.react(before, result.selection_after)


def play_game(context: SpeakerContext, speaker_style: SpeakerStyle | None = None, listener: Listener | None = None,
              seed: int = 0, **kwargs) -> GameResult:
    turns = simulate_game_in_memory(context, speaker_style, listener, seed, **kwargs)
    return GameResult(tuple(turns), turns[-1].selection_after == context.targets)
