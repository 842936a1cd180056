"""Simulated participants.

* ``agents``: the pure agents (no Django): the simulated speaker (``build_speaker``), the simulated
  human listener, grounded descriptions, human annotations.
* ``episode``: ``Episode``, the one step object: a speaker and the ``rules.GameState`` it plays in.
* ``drivers``: what steps episodes: ``in_memory`` (whole games without a database) and ``remote`` (a
  running site over HTTP and its websocket). The driver through the game services is
  ``games.services.simulation``; ``training.learning.simulated`` plays policies in lockstep.
* ``seeds``: ``derive_seed``.

Summaries with bootstrap CIs are in ``games.domain.stats``.
"""
from games.simulation.agents import (
    HeardTurn, ListenerTurn, SimulatedHumanListener, SimulatedSpeaker, Speaker, SpeakerContext, SpeakerMove,
    SpeakerStyle, StyleError, build_speaker,
)
from games.simulation.drivers.in_memory import (
    GameResult, generated_games, human_listener_for, play_episode, play_game, simulate_episode,
    simulate_game_in_memory,
)
from games.simulation.episode import Episode, SimulatedTurn
from games.domain.seeds import derive_seed

__all__ = [
    "Episode", "GameResult", "HeardTurn", "ListenerTurn", "SimulatedHumanListener", "SimulatedSpeaker",
    "SimulatedTurn", "Speaker", "SpeakerContext", "SpeakerMove", "SpeakerStyle", "StyleError", "build_speaker",
    "derive_seed", "generated_games", "human_listener_for", "play_episode", "play_game", "simulate_episode", "simulate_game_in_memory",
]
