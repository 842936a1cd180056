"""Simulated participants as pure agents (no Django, no I/O; each owns its ``random.Random``).

* ``speaker``: ``SimulatedSpeaker`` and its ``SpeakerStyle``; ``build_speaker`` is where every
  driver gets a game's speaker (speaker populations plug in there).
* ``human_listener``: ``SimulatedHumanListener`` (a simulated *person* listening; the model listener
  is a policy in ``training``).
* ``describe``, ``shape_features``, ``phrases``: the language, grounded in each figure's shape.
* ``populations``: groups of speakers (``plain``, ``shifted``, ``people``); ``people`` and ``geometry``: the
  speakers that talk like people (idiolects; facts about the pieces, letters and things, said and read).
* ``annotations``: human descriptions from KILOGRAM-format files.

Agents only talk and click; the drivers (``games.simulation.drivers``, ``games.services.simulation``)
move games on through ``games.simulation.episode.Episode``.
"""
from games.simulation.agents.human_listener import HeardTurn, ListenerTurn, SimulatedHumanListener
from games.simulation.agents.speaker import (
    SimulatedSpeaker, Speaker, SpeakerContext, SpeakerMove, SpeakerStyle, StyleError, build_speaker,
)

__all__ = [
    "HeardTurn", "ListenerTurn", "SimulatedHumanListener", "SimulatedSpeaker", "Speaker", "SpeakerContext",
    "SpeakerMove", "SpeakerStyle", "StyleError", "build_speaker",
]
