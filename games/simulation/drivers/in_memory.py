"""Whole games in memory (pure; no database): a simulated speaker and a listener stepping one ``Episode``.

Fast enough for thousands of games a minute; used for seed data, for training a listener on the
simulated speaker's language, and for quick measurements.
"""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from games.domain import rules
from games.domain.tangrams import TangramFigure
from games.simulation.agents.human_listener import HeardTurn, SimulatedHumanListener
from games.simulation.agents.speaker import SpeakerContext, SpeakerStyle
from games.simulation.episode import Episode, SimulatedTurn
from games.domain.seeds import derive_seed


class Listener(Protocol):
    def act(self, utterance: str, selection: frozenset[str], history: Sequence[HeardTurn]) -> rules.Action: ...


@dataclass(frozen=True)
class GameResult:
    turns: tuple[SimulatedTurn, ...]
    success: bool

    @property
    def turn_count(self) -> int:
        return len(self.turns)


def human_listener_for(
    images: Sequence[str],
    figures: Mapping[str, TangramFigure],
    seed: int,
    *,
    listener_order: Sequence[str] | None = None,
    accuracy: float = 0.85,
    descriptions: Mapping[str, Sequence[str]] | None = None,
) -> SimulatedHumanListener:
    """The simulated human listener of the game under ``seed`` (every driver makes it here: its own seed
    is ``derive_seed(seed, "listener")``); its screen order ``listener_order`` (default: a seeded
    shuffle of ``images``)."""
    order = list(listener_order) if listener_order is not None else list(images)
    if listener_order is None:
        random.Random(derive_seed(seed, "order")).shuffle(order)
    return SimulatedHumanListener(order, figures, accuracy=accuracy, seed=derive_seed(seed, "listener"),
                                  descriptions=descriptions)


def play_episode(episode: Episode, listener: Listener) -> Episode:
    """Step ``episode`` to its end with ``listener`` answering every message (its action cleaned
    against the selection, as the live engine does)."""
    while not episode.over:
        before = episode.selection
        action = listener.act(episode.utterance, before, episode.history)
        action, _ = rules.clean_action(action, before)
        episode.submit(action)
    return episode


def simulate_episode(
    context: SpeakerContext,
    speaker_style: SpeakerStyle | None = None,
    listener: Listener | None = None,
    seed: int = 0,
    *,
    listener_order: Sequence[str] | None = None,
    listener_accuracy: float = 0.85,
) -> Episode:
    """Play one game to its end (success or the turn limit); returns the finished ``Episode``.

    Without a ``listener``, a ``SimulatedHumanListener`` with ``listener_accuracy`` plays, its
    screen order ``listener_order`` (default: a seeded shuffle of the images). Deterministic under
    ``seed`` (for a given listener state).
    """
    episode = Episode.start(context, speaker_style, seed=derive_seed(seed, "speaker"))
    if listener is None:
        listener = human_listener_for(context.images, context.figures, seed, listener_order=listener_order,
                                  accuracy=listener_accuracy, descriptions=context.descriptions)
    return play_episode(episode, listener)


def simulate_game_in_memory(
    context: SpeakerContext,
    speaker_style: SpeakerStyle | None = None,
    listener: Listener | None = None,
    seed: int = 0,
    **kwargs,
) -> list[SimulatedTurn]:
    """The turns of ``simulate_episode`` (same arguments)."""
    return list(simulate_episode(context, speaker_style, listener, seed, **kwargs).turns)


def play_game(context: SpeakerContext, speaker_style: SpeakerStyle | None = None, listener: Listener | None = None,
              seed: int = 0, **kwargs) -> GameResult:
    episode = simulate_episode(context, speaker_style, listener, seed, **kwargs)
    return GameResult(episode.turns, episode.success)


def generated_games(count: int, speaker_style: SpeakerStyle | None = None, *, seed: int = 0, figures: int = 120,
                    listener_accuracy: float = 0.85) -> list[GameResult]:
    """``count`` whole games without a database: contexts (``game_configs.generate_contexts``) drawn from
    ``figures`` generated tangrams (``tangrams.generate_figures``), simulated human listener; all under
    ``seed``. The realism report (``language_report``) and the people-population numbers use it."""
    from games.domain.game_configs import generate_contexts
    from games.domain.tangrams import generate_figures

    library = {f"fig-{i:03d}": f for i, f in enumerate(generate_figures(figures, seed))}
    contexts = generate_contexts(sorted(library), count, seed=seed)
    return [
        play_game(SpeakerContext.of(spec, library), speaker_style, seed=derive_seed(seed, "game", i),
                  listener_order=spec.listener_order, listener_accuracy=listener_accuracy)
        for i, spec in enumerate(contexts)
    ]
