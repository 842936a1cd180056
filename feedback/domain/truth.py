"""Ground truths for scoring decoders, from games as ``games.selectors.feedback_games`` returns them.

Each source maps turn id -> positive / neutral / negative for the turns it knows about:

* ``intent``: what the simulated speaker meant. The intent row of turn k+1 describes the feedback
  the speaker gave on the listener's action at turn k (``SpeakerIntent``), so turn k's truth is
  intent k+1's ``feedback``. The last turn and games of people have none.
* ``sim_quality``: the quality of turn k's action as the simulator recorded it (intent k+1's
  ``previous_action_quality``: GOOD / MIXED / BAD).
* ``quality``: the target-derived action quality (``games.domain.rules.action_quality``) of every
  turn, including the last: GOOD -> positive, MIXED -> neutral, BAD -> negative.

Human annotations join the same way once they exist (a function from games to turn id -> truth).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from feedback.domain.labels import CLASSES, NEGATIVE, NEUTRAL, POSITIVE
from games.domain.rules import Action, ActionQuality, action_quality

TruthSource = Callable[[Iterable[Mapping]], dict[int, str]]

QUALITY_LABELS = {ActionQuality.GOOD: POSITIVE, ActionQuality.MIXED: NEUTRAL, ActionQuality.BAD: NEGATIVE}
_QUALITY_NAMES = {q.name: label for q, label in QUALITY_LABELS.items()}


def intent_truth(games: Iterable[Mapping]) -> dict[int, str]:
    truth = {}
    for game in games:
        for turn in game["turns"]:
            intent = game["intents"].get(turn["index"] + 1)
            if intent is not None and intent["feedback"] in CLASSES:
                truth[turn["id"]] = intent["feedback"]
    return truth


def simulated_quality_truth(games: Iterable[Mapping]) -> dict[int, str]:
    truth = {}
    for game in games:
        for turn in game["turns"]:
            intent = game["intents"].get(turn["index"] + 1)
            label = _QUALITY_NAMES.get(str(intent["previous_action_quality"]).upper()) if intent else None
            if label is not None:
                truth[turn["id"]] = label
    return truth


def action_quality_truth(games: Iterable[Mapping]) -> dict[int, str]:
    truth = {}
    for game in games:
        for turn in game["turns"]:
            action = Action(deselect=frozenset(turn["deselected"]), select=frozenset(turn["selected"]))
            truth[turn["id"]] = QUALITY_LABELS[action_quality(action, game["targets"])]
    return truth


TRUTH_SOURCES: dict[str, TruthSource] = {
    "intent": intent_truth,
    "sim_quality": simulated_quality_truth,
    "quality": action_quality_truth,
}

__all__ = ["TruthSource", "QUALITY_LABELS", "intent_truth", "simulated_quality_truth", "action_quality_truth",
           "TRUTH_SOURCES"]
