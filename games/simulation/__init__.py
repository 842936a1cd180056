"""Simulated participants (pure: no Django): shape-grounded descriptions, the simulated speaker,
the simulated human listener, whole games in memory. ``remote`` drives a running site over HTTP
and its websocket; the database drivers are in ``games.services.simulation``."""
from games.simulation.game import GameResult, SimulatedTurn, play_game, simulate_game_in_memory
from games.simulation.listener import ListenerTurn, SimulatedHumanListener
from games.simulation.speaker import SimulatedSpeaker, SpeakerContext, SpeakerMove, SpeakerStyle, StyleError

__all__ = [
    "GameResult", "ListenerTurn", "SimulatedHumanListener", "SimulatedSpeaker", "SimulatedTurn", "SpeakerContext",
    "SpeakerMove", "SpeakerStyle", "StyleError", "play_game", "simulate_game_in_memory",
]
