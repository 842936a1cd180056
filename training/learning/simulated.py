"""Simulated games in memory for training and measuring listener policies (pure; no Django).

* ``simulated_turns``: human–human-style games (simulated speaker + simulated human listener) over
  random contexts drawn from a pool of figures, as ``PlayedTurn`` rows: pre-training data for a base
  listener, in the seed data's style.
* ``play_policy_games``: a policy plays many games against simulated speakers *in lockstep*, so every
  step is one batched ``policy.act`` call; returns per-game outcomes for success rates with CIs.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from games.domain import rules
from games.domain.tangrams import TangramFigure
from games.simulation.game import derive_seed, simulate_game_in_memory
from games.simulation.speaker import SimulatedSpeaker, SpeakerContext, SpeakerStyle
from training.learning.examples import PlayedTurn
from training.policies.base import ActRequest, PastTurn

TARGET_WEIGHTS = {3: 0.31, 4: 0.38, 5: 0.31}  # as generated configs (original-system.md §1.1)


@dataclass(frozen=True)
class Context:
    images: tuple[str, ...]  # speaker order
    listener_order: tuple[str, ...]
    targets: frozenset[str]


def random_contexts(names: Sequence[str], count: int, seed: int) -> list[Context]:
    """``count`` contexts of 10 distinct images with 3/4/5 targets (31/38/31%), both orders shuffled."""
    if len(names) < 10:
        raise ValueError(f"a context needs 10 images; the pool has {len(names)}")
    rng = random.Random(seed)
    sizes, weights = zip(*TARGET_WEIGHTS.items())
    out = []
    for _ in range(count):
        images = rng.sample(list(names), 10)
        targets = frozenset(rng.sample(images, rng.choices(sizes, weights)[0]))
        order = list(images)
        rng.shuffle(order)
        out.append(Context(tuple(images), tuple(order), targets))
    return out


def _requests_of(game: str, order: tuple[str, ...], targets: frozenset[str], turns) -> list[PlayedTurn]:
    history: list[PastTurn] = []
    out = []
    for turn in turns:
        request = ActRequest(
            interaction_id=0, turn=turn.index, listener_order=order, history=tuple(history),
            utterance=turn.utterance, selection=turn.selection_before,
        )
        out.append(PlayedTurn(request=request, action=turn.action, targets=targets, game=game))
        history.append(PastTurn(turn.selection_before, turn.utterance, turn.action.select, turn.action.deselect))
    return out


def simulated_turns(
    figures: Mapping[str, TangramFigure],
    games: int,
    seed: int,
    *,
    style: SpeakerStyle | None = None,
    listener_accuracy: tuple[float, float] = (0.5, 0.95),
    descriptions: Mapping[str, Sequence[str]] | None = None,
) -> list[PlayedTurn]:
    """Turns of ``games`` human–human-style games; each game's listener accuracy is drawn uniformly
    from ``listener_accuracy`` so that the data holds good play and plenty of corrections."""
    rng = random.Random(seed)
    out: list[PlayedTurn] = []
    for k, context in enumerate(random_contexts(sorted(figures), games, seed)):
        speaker_context = SpeakerContext(context.images, context.targets, figures, descriptions)
        turns = simulate_game_in_memory(
            speaker_context, style, None, derive_seed(seed, "game", k), listener_order=context.listener_order,
            listener_accuracy=rng.uniform(*listener_accuracy),
        )
        out += _requests_of(f"sim-{seed}-{k}", context.listener_order, context.targets, turns)
    return out


@dataclass(frozen=True)
class PolicyGame:
    success: bool
    turns: int
    turn_log: tuple[PlayedTurn, ...]
    intents: tuple = ()  # the speaker's SpeakerMove behind each turn's utterance (its ground truth)


def play_policy_games(
    policy,
    figures: Mapping[str, TangramFigure],
    contexts: Sequence[Context],
    seed: int,
    *,
    style: SpeakerStyle | None = None,
    descriptions: Mapping[str, Sequence[str]] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> list[PolicyGame]:
    """Each context is one game: a simulated speaker talks, the policy listens; all games advance
    together, one batched ``policy.act`` per step."""
    speakers, states, logs, histories, utterances, intents = [], [], [], [], [], []
    for k, context in enumerate(contexts):
        speaker = SimulatedSpeaker(
            SpeakerContext(context.images, context.targets, figures, descriptions), style, seed=derive_seed(seed, k),
        )
        speakers.append(speaker)
        states.append(rules.GameState(targets=context.targets, context=frozenset(context.images)))
        logs.append([])
        histories.append([])
        intents.append([speaker.first_move()])
        utterances.append(intents[-1][0].text)
    live = list(range(len(contexts)))
    step = 0
    while live:
        requests = [
            ActRequest(
                interaction_id=k, turn=len(histories[k]), listener_order=contexts[k].listener_order,
                history=tuple(histories[k]), utterance=utterances[k], selection=states[k].selection,
            )
            for k in live
        ]
        results = policy.act(requests)
        still = []
        for k, request, result in zip(live, requests, results):
            action, _ = rules.clean_action(rules.Action(deselect=result.deselect, select=result.select), request.selection)
            before = states[k].selection
            outcome = states[k].submit(action)
            logs[k].append(PlayedTurn(request=request, action=action, targets=contexts[k].targets, game=str(k)))
            histories[k].append(PastTurn(before, utterances[k], action.select, action.deselect))
            if not outcome.ended:
                move = speakers[k].react(before, outcome.selection_after)
                intents[k].append(move)
                utterances[k] = move.text
                still.append(k)
        live = still
        step += 1
        if on_step:
            on_step(step)
    return [
        PolicyGame(success=states[k].selection == contexts[k].targets, turns=len(logs[k]), turn_log=tuple(logs[k]),
                   intents=tuple(intents[k]))
        for k in range(len(contexts))
    ]
