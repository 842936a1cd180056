"""Read-side queries of the training app."""
from __future__ import annotations

from collections.abc import Sequence

from games.models import Tangram


def tangram_pngs(names: Sequence[str]) -> dict[str, bytes]:
    """The model-side PNG (224 px RGB) of each named tangram that exists; missing names are absent."""
    rows = Tangram.objects.filter(name__in=list(names)).values_list("name", "png")
    return {name: bytes(png) for name, png in rows}


def played_turns(interaction_ids: Sequence[int]):
    """Every recorded turn of these interactions as ``PlayedTurn`` (the request the listener saw, the
    action it took, the targets), in game and turn order."""
    from games.domain.rules import Action
    from games.models import Interaction
    from training.learning.examples import PlayedTurn
    from training.policies.base import ActRequest, PastTurn

    out = []
    interactions = (
        Interaction.objects.filter(pk__in=list(interaction_ids))
        .select_related("config").prefetch_related("config__context_images__tangram", "turns").order_by("pk")
    )
    for interaction in interactions:
        rows = sorted(interaction.config.context_images.all(), key=lambda r: r.listener_position)
        order = tuple(r.tangram.name for r in rows)
        targets = frozenset(r.tangram.name for r in rows if r.is_target)
        history: list[PastTurn] = []
        for turn in sorted(interaction.turns.all(), key=lambda t: t.index):
            request = ActRequest(
                interaction_id=interaction.pk, turn=turn.index, listener_order=order, history=tuple(history),
                utterance=turn.utterance, selection=frozenset(turn.selection_before),
                listener_kind=interaction.listener_kind, checkpoint_id=turn.checkpoint_id,
            )
            action = Action(deselect=frozenset(turn.deselected), select=frozenset(turn.selected))
            out.append(PlayedTurn(request=request, action=action, targets=targets, game=str(interaction.pk)))
            history.append(PastTurn(request.selection, turn.utterance, action.select, action.deselect))
    return out


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
    in-memory simulation contexts."""
    import random

    from games.models import GameConfig
    from games.selectors import context_spec_of
    from training.learning.simulated import Context

    configs = list(GameConfig.objects.filter(split=split).order_by("name").prefetch_related("context_images__tangram"))
    if not configs:
        return []
    rng = random.Random(seed)
    picked = rng.sample(configs, count) if count <= len(configs) else [rng.choice(configs) for _ in range(count)]
    out = []
    for config in picked:
        spec = context_spec_of(config)
        out.append(Context(tuple(spec.speaker_order), tuple(spec.listener_order), frozenset(spec.targets)))
    return out


def checkpoint_id_by_name(name: str) -> int | None:
    from training.models import PolicyCheckpoint

    return PolicyCheckpoint.objects.filter(name=name).values_list("pk", flat=True).first()
