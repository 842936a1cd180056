"""Simulated games in memory for training and measuring listener policies (pure; no Django).

Contexts are ``games.domain.game_configs.ContextSpec`` (random ones from ``generate_contexts``, or a
split's configs from ``training.selectors.split_contexts``); games are ``games.simulation`` episodes, so
they progress by the one ``GameState``, and every policy request is ``ActRequest.for_state`` of it.

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
from games.domain.game_configs import ContextSpec, generate_contexts
from games.domain.tangrams import TangramFigure
from games.simulation import Episode, SpeakerContext, SpeakerMove, SpeakerStyle, derive_seed, simulate_episode
from training.learning.examples import PlayedTurn
from training.policies.base import ActRequest


def episode_turns(episode: Episode, listener_order: Sequence[str], game: str) -> list[PlayedTurn]:
    """An episode's turns as a listener policy is asked them: each request is ``ActRequest.for_state`` of
    the game state before that turn (the episode's turns replayed on a fresh ``GameState``)."""
    state = rules.GameState(targets=episode.state.targets, context=episode.state.context)
    out = []
    for turn in episode.turns:
        request = ActRequest.for_state(state, listener_order=listener_order, utterance=turn.utterance)
        out.append(PlayedTurn(request=request, action=turn.action, targets=state.targets, game=game))
        state.submit(turn.action, turn.utterance)
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
    """Turns of ``games`` human–human-style games on contexts of ``figures`` (``generate_contexts``);
    each game's listener accuracy is drawn uniformly from ``listener_accuracy`` so that the data holds
    good play and plenty of corrections."""
    rng = random.Random(seed)
    out: list[PlayedTurn] = []
    for k, context in enumerate(generate_contexts(sorted(figures), games, seed=seed)):
        episode = simulate_episode(
            SpeakerContext.of(context, figures, descriptions), style, None, derive_seed(seed, "game", k),
            listener_order=context.listener_order, listener_accuracy=rng.uniform(*listener_accuracy),
        )
        out += episode_turns(episode, context.listener_order, f"sim-{seed}-{k}")
    return out


@dataclass(frozen=True)
class PolicyGame:
    success: bool
    turns: int
    turn_log: tuple[PlayedTurn, ...]
    intents: tuple[SpeakerMove, ...] = ()  # the speaker's move behind each turn's utterance (its ground truth)


def play_policy_games(
    policy,
    figures: Mapping[str, TangramFigure],
    contexts: Sequence[ContextSpec],
    seed: int,
    *,
    style: SpeakerStyle | None = None,
    descriptions: Mapping[str, Sequence[str]] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> list[PolicyGame]:
    """Each context is one game: a simulated speaker talks, the policy listens; all games advance
    together, one batched ``policy.act`` per step (request ``interaction_id`` = the game's index)."""
    episodes = [
        Episode.start(SpeakerContext.of(context, figures, descriptions), style, seed=derive_seed(seed, k))
        for k, context in enumerate(contexts)
    ]
    logs: list[list[PlayedTurn]] = [[] for _ in contexts]
    live = list(range(len(contexts)))
    step = 0
    while live:
        requests = [
            ActRequest.for_state(episodes[k].state, listener_order=contexts[k].listener_order,
                                 utterance=episodes[k].utterance, interaction_id=k)
            for k in live
        ]
        results = policy.act(requests)
        for k, request, result in zip(live, requests, results):
            action, _ = rules.clean_action(rules.Action(deselect=result.deselect, select=result.select), request.selection)
            episodes[k].submit(action)
            logs[k].append(PlayedTurn(request=request, action=action, targets=contexts[k].targets, game=str(k)))
        live = [k for k in live if not episodes[k].over]
        step += 1
        if on_step:
            on_step(step)
    return [
        PolicyGame(success=episode.success, turns=len(episode.turns), turn_log=tuple(log),
                   intents=tuple(turn.intent for turn in episode.turns))
        for episode, log in zip(episodes, logs)
    ]
