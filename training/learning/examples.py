"""Training examples from played turns (pure; no Django, no torch).

A ``PlayedTurn`` is one listener decision as it happened: the request the listener saw and the action it
took, plus the targets when known (seed games, simulations). Seed training imitates only *good* actions
(original-system.md §4.2: ``is_good_select or is_good_deselect``) and adds two synthetic corrections:

* remove-last: after a turn that selected something and was not a good select, the speaker asks to undo
  it; the target action deselects exactly what was just selected;
* remove-current: after any turn that leaves a selection, the speaker asks to clear everything; the
  target action deselects the whole selection.

Augmented examples are mixed in at the original's proportions (0.88 / 0.06 / 0.06 of the dataset).
The phrasings below are ours.
"""
from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from games.domain.rules import MAX_TURNS, Action, apply_action, is_good_deselect, is_good_select
from training.policies.base import ActRequest, PastTurn, ScoreExample

SEED_MIX = (0.88, 0.06, 0.06)  # original turns, remove-last, remove-current

REMOVE_LAST_PHRASES = (
    "that was wrong, undo it",
    "undo what you just picked",
    "no, deselect the one you just chose",
    "wrong one, take it back",
    "unselect the last one please",
)
REMOVE_CURRENT_PHRASES = (
    "clear everything and start over",
    "deselect all of them",
    "no, remove all your picks",
    "unselect everything",
    "start again from nothing",
)


@dataclass(frozen=True)
class PlayedTurn:
    request: ActRequest
    action: Action
    targets: frozenset[str] | None = None
    game: str = ""  # any id grouping turns of one game (for splits)
    origin: str = ""  # "" for a played turn, else the augmentation that made it

    def example(self) -> ScoreExample:
        return ScoreExample(self.request, select=self.action.select, deselect=self.action.deselect)

    @property
    def selection_after(self) -> frozenset[str]:
        return apply_action(self.request.selection, self.action)


def is_good_turn(turn: PlayedTurn) -> bool:
    if turn.targets is None:
        raise ValueError("good-action filtering needs the targets")
    return is_good_select(turn.action, turn.targets) or is_good_deselect(turn.action, turn.targets)


def _follow_up(turn: PlayedTurn, utterance: str, action: Action, origin: str) -> PlayedTurn:
    past = PastTurn(
        selection_before=turn.request.selection, utterance=turn.request.utterance,
        select=turn.action.select, deselect=turn.action.deselect,
    )
    request = replace(
        turn.request, turn=turn.request.turn + 1, history=(*turn.request.history, past), utterance=utterance,
        selection=turn.selection_after,
    )
    return PlayedTurn(request=request, action=action, targets=turn.targets, game=turn.game, origin=origin)


def remove_last_augmentation(turn: PlayedTurn, rng: random.Random) -> PlayedTurn | None:
    if turn.targets is None or not turn.action.select or is_good_select(turn.action, turn.targets):
        return None
    if turn.request.turn + 1 >= MAX_TURNS:
        return None
    return _follow_up(turn, rng.choice(REMOVE_LAST_PHRASES), Action(deselect=turn.action.select), "remove_last")


def remove_current_augmentation(turn: PlayedTurn, rng: random.Random) -> PlayedTurn | None:
    after = turn.selection_after
    if not after or turn.request.turn + 1 >= MAX_TURNS:
        return None
    return _follow_up(turn, rng.choice(REMOVE_CURRENT_PHRASES), Action(deselect=after), "remove_current")


def seed_dataset(turns: Sequence[PlayedTurn], seed: int, mix: Collection[float] = SEED_MIX) -> list[PlayedTurn]:
    """Good turns plus augmentations so that augmented rows are ``mix[1]`` and ``mix[2]`` of the result
    (as many as eligible turns allow). Deterministic under ``seed``."""
    rng = random.Random(seed)
    good = [t for t in turns if is_good_turn(t)]
    share_original, share_last, share_current = mix
    if not good:
        return []
    total = len(good) / share_original
    out = list(good)
    for make, share in ((remove_last_augmentation, share_last), (remove_current_augmentation, share_current)):
        eligible = [t for t in turns if make(t, random.Random(0)) is not None]
        rng.shuffle(eligible)
        for turn in eligible[: round(total * share)]:
            out.append(make(turn, rng))
    rng.shuffle(out)
    return out
