"""Read-side queries of the training app."""
from __future__ import annotations

from collections.abc import Sequence

from games import selectors as games_selectors
from games.selectors import RecordedGame
from games.models import Tangram
from training.learning.examples import PlayedTurn
from training.policies.base import ActRequest, DecodingSettings, decoding_from_hyperparameters


def tangram_pngs(names: Sequence[str]) -> dict[str, bytes]:
    """The model-side PNG (224 px RGB) of each named tangram that exists; missing names are absent."""
    rows = Tangram.objects.filter(name__in=list(names)).values_list("name", "png")
    return {name: bytes(png) for name, png in rows}


def bot_request(interaction_id: int, turn: int) -> ActRequest:
    """Everything a listener policy may see for the turn a bot game is at (targets only for the
    oracle), with the deployed system's decoding settings (ValueError if the stored ones are
    invalid); Interaction.DoesNotExist for an unknown game."""
    view = games_selectors.bot_turn(interaction_id)
    hyperparameters = view.system_hyperparameters
    return ActRequest.for_state(
        view.state,
        listener_order=view.listener_order,
        utterance=view.utterance,
        interaction_id=view.interaction_id,
        targets=view.targets if view.listener_kind == "oracle" else None,
        listener_kind=view.listener_kind,
        checkpoint_id=view.checkpoint_id,
        show_at=view.show_at,
        decoding=decoding_from_hyperparameters(hyperparameters) if hyperparameters is not None else DecodingSettings(),
    )


def played_turns_of(game: RecordedGame) -> list[PlayedTurn]:
    """A recorded game's turns as ``PlayedTurn`` (the request the listener saw, the action it took, the
    targets), in turn order: the requests are sliced from the game's one history."""
    history = game.state.history
    return [
        PlayedTurn(
            request=ActRequest(
                interaction_id=game.interaction_id, turn=index, listener_order=game.context.listener_order,
                history=history[:index], utterance=past.utterance, selection=past.selection_before,
                listener_kind=game.listener_kind, checkpoint_id=logged.checkpoint_id,
            ),
            action=past.action, targets=game.state.targets, game=str(game.interaction_id),
        )
        for index, (past, logged) in enumerate(zip(history, game.turns))
    ]


def played_turns(interaction_ids: Sequence[int]) -> list[PlayedTurn]:
    """Every recorded turn of these interactions as ``PlayedTurn``, in game and turn order."""
    return [turn for game in games_selectors.recorded_games(interaction_ids) for turn in played_turns_of(game)]


def seed_game_ids(split: str, count: int) -> list[int]:
    """The first ``count`` completed human–human seed games on ``split`` configs (oldest first)."""
    from games.models import Interaction

    return list(
        Interaction.objects.filter(
            purpose=Interaction.Purpose.SEED, listener_kind="human", config__split=split,
            status=Interaction.Status.ENDED, turn_count__gt=0,
        ).order_by("pk").values_list("pk", flat=True)[:count]
    )


def library_figures(names) -> dict:
    """name -> TangramFigure for the named library tangrams."""
    from games.domain.tangrams import TangramFigure

    rows = Tangram.objects.filter(name__in=list(names)).values_list("name", "polygons")
    return {name: TangramFigure.from_json(polygons) for name, polygons in rows}


def split_contexts(split: str, count: int, seed: int):
    """``count`` configs of ``split`` drawn under ``seed`` (with replacement when there are fewer) as
    ``ContextSpec``s for in-memory simulation."""
    import random

    from games.models import GameConfig
    from games.selectors import context_spec_of

    configs = list(GameConfig.objects.filter(split=split).order_by("name").prefetch_related("context_images__tangram"))
    if not configs:
        return []
    rng = random.Random(seed)
    picked = rng.sample(configs, count) if count <= len(configs) else [rng.choice(configs) for _ in range(count)]
    return [context_spec_of(config) for config in picked]


def checkpoint_id_by_name(name: str) -> int | None:
    from training.models import PolicyCheckpoint

    return PolicyCheckpoint.objects.filter(name=name).values_list("pk", flat=True).first()


def newest_trained_checkpoints() -> dict[str, int]:
    """system name -> the checkpoint of its newest successful training run."""
    from training.models import TrainingRun

    newest: dict[str, int] = {}
    for name, checkpoint_id in (
        TrainingRun.objects.filter(status=TrainingRun.Status.SUCCEEDED)
        .order_by("round__number").values_list("system__name", "checkpoint_id")
    ):
        newest[name] = checkpoint_id
    return newest


def training_runs(round_numbers=None, system_names=None) -> list[dict]:
    """Training runs (optionally of some rounds and systems), by round then system: ``round``, ``system``,
    ``objective``, ``status``, ``dataset_stats``, ``loss_curve``, ``held_out_curve``, ``seconds``."""
    from training.models import TrainingRun

    rows = TrainingRun.objects.select_related("round", "system").order_by("round__number", "system__name")
    if round_numbers is not None:
        rows = rows.filter(round__number__in=list(round_numbers))
    if system_names is not None:
        rows = rows.filter(system__name__in=list(system_names))
    return [
        {
            "round": run.round.number, "system": run.system.name, "objective": run.objective, "status": run.status,
            "dataset_stats": run.dataset_stats, "loss_curve": run.loss_curve, "held_out_curve": run.held_out_curve,
            "seconds": run.seconds,
        }
        for run in rows
    ]
