"""Retraining datasets of the learning loop (pure; no Django, no torch).

For a system and round ρ, the dataset D≤ρ holds the turns of that system's own deployments in rounds
≤ ρ with the system's decoded labels, plus the seed data (good human actions and the two correction
augmentations, ``training.learning.examples.seed_dataset``). Which interaction turns go in, and as
what, depends on the objective:

| objective | interaction turns used | as |
| --- | --- | --- |
| ``sup`` | decoded positive | imitation targets (reward +1) |
| ``rl`` | decoded positive / negative | rewards +1 / −0.1 with the logged probability |
| ``kto`` | decoded positive / negative | desirable / undesirable, reference = the logged probability |
| ``final_reward`` | every turn, by the game's outcome (no decoding) | reward +1 (success) / −0.1 (failure), REINFORCE |
| ``seed_only`` | none | — (the same training on seed data only: the attribution baseline) |

Always excluded: the recorded fallbacks (``fallback``, ``error``, ``timeout`` turns, whose probability is a
sentinel) — the policy did not choose them. Excluded per objective: unlabelled, unparsed and (for
ternary systems) neutral turns where a label is needed; turns without a logged probability where the
objective weighs by it. A binary system reads its decoder's labels in the binary view (neutral leans
negative, as the study's binary prompt asks). Every exclusion is counted in ``stats``.

Contexts are shuffled per example (``shuffle_contexts``): a new listener screen order, so the letters
A–J of every image change consistently through the whole history (histories hold image ids, and
letters are assigned from the order when a prompt is built). A held-out slice of whole games (by a
seeded hash of the game id) serves checkpoint selection. Deterministic under ``seed``.
"""
from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from feedback.domain.labels import NEGATIVE, NEUTRAL, POSITIVE, UNPARSED, to_binary
from games.domain.rules import Action
from training.learning.examples import PlayedTurn
from training.learning.settings import RL_REWARDS

OBJECTIVES = ("sup", "rl", "kto", "final_reward", "seed_only")
SEED_TASK, INTERACTION_TASK = "seed", "interaction"
FALLBACK_SOURCES = frozenset({"fallback", "error", "timeout"})
NEEDS_PROBABILITY = frozenset({"rl", "kto", "final_reward"})


class DatasetError(ValueError):
    """A dataset that cannot be built as asked (the message is a one-line reason)."""


@dataclass(frozen=True)
class LoggedTurn:
    """One recorded turn of a system's own deployment, with what retraining may use."""

    turn: PlayedTurn  # the request the policy saw, the action it took, the targets
    round: int
    label: str | None  # the system's decoder's label for this action (None: not decoded)
    probability: float | None  # the deployed policy's probability of the action (negative: a sentinel)
    action_source: str
    game_succeeded: bool
    checkpoint_id: int | None  # the policy that acted


@dataclass(frozen=True)
class TrainingExample:
    turn: PlayedTurn
    task: str  # SEED_TASK (imitation of the seed data) or INTERACTION_TASK (the objective's loss)
    reward: float = 1.0  # +1 positive / desirable; RL negatives −0.1; KTO undesirable −1
    logged_probability: float | None = None
    checkpoint_id: int | None = None  # the policy that logged the action (KTO's reference for the unrelated action)
    round: int | None = None
    # KTO: log π_ref of ``unrelated_action`` under the policy that logged the turn (a frozen pass before training).
    reference_unrelated_logp: float | None = None

    @property
    def desirable(self) -> bool:
        return self.reward > 0


@dataclass
class Dataset:
    objective: str
    examples: list[TrainingExample]
    held_out: list[TrainingExample]
    stats: dict = field(default_factory=dict)

    def task(self, name: str) -> list[TrainingExample]:
        return [e for e in self.examples if e.task == name]


def _game_is_held_out(game: str, share: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{game}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def shuffled_context(turn: PlayedTurn, rng: random.Random) -> PlayedTurn:
    """The same turn with a fresh listener screen order (letters relabelled everywhere consistently)."""
    order = list(turn.request.listener_order)
    rng.shuffle(order)
    return replace(turn, request=replace(turn.request, listener_order=tuple(order)))


def unrelated_action(turn: PlayedTurn) -> Action:
    """The study's "single click" action for KTO's reference point: one toggle of the listener's
    first image, or of the second when the real action was exactly that click."""
    order = turn.request.listener_order
    first = order[0] if turn.action.toggled != {order[0]} else order[1]
    selected = turn.request.selection
    return Action(deselect=frozenset({first}) & selected, select=frozenset({first}) - selected)


def interaction_example(objective: str, logged: LoggedTurn, *, binary: bool) -> tuple[TrainingExample | None, str]:
    """The example a logged turn gives for ``objective``, or None and why it is left out."""
    if logged.action_source in FALLBACK_SOURCES:
        return None, "fallback"
    if objective in NEEDS_PROBABILITY and (logged.probability is None or logged.probability < 0):
        return None, "no_probability"
    if objective == "final_reward":
        reward = RL_REWARDS[POSITIVE] if logged.game_succeeded else RL_REWARDS[NEGATIVE]
    else:
        label = logged.label
        if label is None:
            return None, "unlabelled"
        if label == UNPARSED:
            return None, "unparsed"
        if binary:
            label = to_binary(label)
        if label == NEUTRAL:
            return None, "neutral"
        if objective == "sup":
            if label != POSITIVE:
                return None, "negative"
            reward = 1.0
        elif objective == "rl":
            reward = RL_REWARDS[label]
        else:  # kto
            reward = 1.0 if label == POSITIVE else -1.0
    return TrainingExample(
        turn=logged.turn, task=INTERACTION_TASK, reward=reward, logged_probability=logged.probability,
        checkpoint_id=logged.checkpoint_id, round=logged.round,
    ), ""


def build_dataset(
    objective: str,
    logged: Sequence[LoggedTurn],
    seed_rows: Sequence[PlayedTurn],
    *,
    binary: bool,
    seed: int,
    held_out_share: float = 0.1,
    shuffle_contexts: bool = True,
    selection: Sequence[PlayedTurn] = (),
) -> Dataset:
    """D≤ρ for one system: ``logged`` (its own deployments' turns of rounds ≤ ρ) and ``seed_rows``.

    The held-out set that selects the checkpoint: ``selection`` (good listener actions of human–human
    games, as the study's) when given, and then every row trains; otherwise a ``held_out_share`` slice
    of whole games of the training rows. ``held_out_share`` 0: no held-out set at all (no selection)."""
    if objective not in OBJECTIVES:
        raise DatasetError(f"objective must be one of {', '.join(OBJECTIVES)}; got {objective!r}")
    if not 0 <= held_out_share < 1:
        raise DatasetError("held_out_share must be in [0, 1)")
    rng = random.Random(seed)
    excluded: Counter = Counter()
    labels_per_round: dict[int, Counter] = defaultdict(Counter)
    interaction: list[TrainingExample] = []
    for item in ([] if objective == "seed_only" else logged):
        labels_per_round[item.round][item.label or "unlabelled"] += 1
        example, why = interaction_example(objective, item, binary=binary)
        if example is None:
            excluded[why] += 1
        else:
            interaction.append(example)
    seed_examples = [TrainingExample(turn=row, task=SEED_TASK) for row in seed_rows]
    if not interaction and not seed_examples:
        raise DatasetError("nothing to train on: no usable interaction turn and no seed data")
    from_people = bool(selection) and held_out_share > 0
    train, held_out = [], []
    for example in seed_examples + interaction:
        if shuffle_contexts:
            example = replace(example, turn=shuffled_context(example.turn, rng))
        slice_out = not from_people and _game_is_held_out(example.turn.game, held_out_share, seed)
        (held_out if slice_out else train).append(example)
    if not train:
        train, held_out = held_out, []
    if from_people:
        held_out = [TrainingExample(turn=shuffled_context(row, rng) if shuffle_contexts else row, task=SEED_TASK)
                    for row in selection]
    rng.shuffle(train)
    used_per_round: dict[int, Counter] = defaultdict(Counter)
    for example in train + held_out:
        if example.task == INTERACTION_TASK:
            used_per_round[example.round]["desirable" if example.desirable else "undesirable"] += 1
    stats = {
        "objective": objective,
        "binary_labels": binary,
        "rows": len(train),
        "held_out_rows": len(held_out),
        "held_out_source": "human-human" if from_people else ("own games" if held_out else "none"),
        "seed_rows": sum(1 for e in train if e.task == SEED_TASK),
        "interaction_rows": sum(1 for e in train if e.task == INTERACTION_TASK),
        "augmented_seed_rows": dict(Counter(row.origin for row in seed_rows if row.origin)),
        "logged_turns": len(logged) if objective != "seed_only" else 0,
        "excluded": dict(sorted(excluded.items())),
        "labels_per_round": {str(r): dict(sorted(c.items())) for r, c in sorted(labels_per_round.items())},
        "used_per_round": {str(r): dict(sorted(c.items())) for r, c in sorted(used_per_round.items())},
    }
    return Dataset(objective=objective, examples=train, held_out=held_out, stats=stats)


__all__ = [
    "OBJECTIVES", "SEED_TASK", "INTERACTION_TASK", "DatasetError", "LoggedTurn", "TrainingExample", "Dataset",
    "shuffled_context", "unrelated_action", "interaction_example", "build_dataset",
]
