"""Systems and rounds: what is deployed, on which contexts, with which timing and pay."""
from __future__ import annotations

import random

from django.core.exceptions import ValidationError
from django.db import transaction

from games.bots import bot_backend
from games.domain.study_settings import SettingsError, StudySettings
from games.models import (
    NAME_VALIDATOR, OBJECTIVES_NEEDING_FEEDBACK, Deployment, GameConfig, Interaction, Round, RoundConfig, System,
)
from games.services import lifecycle, play


class RoundError(ValueError):
    """A round or system that cannot be created as asked; nothing was changed."""


def create_system(
    name: str, *, listener_kind: str, decoder: str = "none", objective: str = "none",
    description: str = "", hyperparameters: dict | None = None,
) -> System:
    """Create a system, or return the existing one if it has the same definition."""
    max_length = System._meta.get_field("name").max_length
    try:
        NAME_VALIDATOR(name)
    except ValidationError:
        raise RoundError(f"invalid system name {name!r}: {NAME_VALIDATOR.message}") from None
    if len(name) > max_length:
        raise RoundError(f"invalid system name {name[:20]!r}...: at most {max_length} characters")
    fields = dict(listener_kind=listener_kind, decoder=decoder, objective=objective)
    for field, value in fields.items():
        choices = System._meta.get_field(field).choices
        if value not in {c[0] for c in choices}:
            raise RoundError(f"{field} must be one of {', '.join(c[0] for c in choices)}; got {value!r}")
    if objective in OBJECTIVES_NEEDING_FEEDBACK and decoder == "none":
        raise RoundError(f"a system that learns from feedback (objective {objective}) needs a feedback decoder")
    _check_hyperparameters(name, hyperparameters)
    system, created = System.objects.get_or_create(
        name=name, defaults={**fields, "description": description, "hyperparameters": hyperparameters or {}}
    )
    if not created and any(getattr(system, k) != v for k, v in fields.items()):
        raise RoundError(f"a different system named {name!r} already exists")
    return system


@transaction.atomic
def launch_round(
    *,
    systems: list[tuple[str, int | None]],
    number: int | None = None,
    queue_size: int = 150,
    split: str = "train",
    seed: int = 0,
    settings: dict | None = None,
) -> Round:
    """Open a round: a shared queue of ``queue_size`` configs drawn from ``split`` under ``seed``,
    and one deployment per (system name, checkpoint id), each walking its own shuffle of the queue.
    """
    if not systems:
        raise RoundError("name at least one system to deploy")
    if queue_size < 1:
        raise RoundError("the config queue needs at least one config")
    try:
        study = StudySettings.from_dict(settings or {})
    except SettingsError as exc:
        raise RoundError(f"settings: {exc}") from None
    if Round.objects.filter(status=Round.Status.OPEN).exists():
        raise RoundError("another round is open; close it first")
    if number is None:
        number = (Round.objects.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    if Round.objects.filter(number=number).exists():
        raise RoundError(f"round {number} already exists")
    names = [name for name, _ in systems]
    if len(set(names)) != len(names):
        raise RoundError("each system can be deployed once per round")
    found = {s.name: s for s in System.objects.filter(name__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise RoundError(f"unknown systems: {', '.join(missing)} (create them with create_system)")
    for name, checkpoint in systems:
        if found[name].listener_kind == "model" and checkpoint is None:
            raise RoundError(f"system {name} has a model listener: give it a checkpoint")
    wanted = {checkpoint for _, checkpoint in systems if checkpoint is not None}
    checkpoints = Deployment._meta.get_field("checkpoint").related_model.objects
    unknown = sorted(wanted - set(checkpoints.filter(pk__in=wanted).values_list("pk", flat=True)))
    if unknown:
        raise RoundError(f"unknown checkpoint {', '.join(map(str, unknown))}")
    _check_model_checkpoints([c for name, c in systems if found[name].listener_kind == "model"])
    for name in names:
        _check_hyperparameters(name, found[name].hyperparameters)
    pool = list(GameConfig.objects.filter(split=split).order_by("name").values_list("pk", flat=True))
    if not pool:
        raise RoundError(f"no game configs in split {split!r}")
    rng = random.Random(seed)
    queue = rng.sample(pool, min(queue_size, len(pool)))
    round_ = Round.objects.create(number=number, settings=study.to_dict())
    RoundConfig.objects.bulk_create(RoundConfig(round=round_, config_id=c, position=i) for i, c in enumerate(queue))
    for name, checkpoint in systems:
        Deployment.objects.create(
            round=round_, system=found[name], checkpoint_id=checkpoint, queue_seed=rng.randrange(2**31)
        )
    return lifecycle.transition_round(round_.pk, Round.Status.OPEN)


def close_round(number: int, *, force: bool = False) -> Round:
    """Close round ``number``: no new games start in it. Refused (RoundError, nothing changed) while
    games are in play unless ``force``, which ends each of them cleanly (reason ``cancelled``; the
    players are paid for their time). Closing a round that is already past ``open`` changes nothing."""
    round_ = Round.objects.filter(number=number).first()
    if round_ is None:
        raise RoundError(f"round {number} does not exist")
    if round_.status in (Round.Status.CLOSED, Round.Status.DECODED, Round.Status.TRAINED):
        return round_
    if round_.status != Round.Status.OPEN:
        raise RoundError(f"round {number} is {round_.status}: only an open round can be closed")
    live = list(
        Interaction.objects.filter(deployment__round=round_, status=Interaction.Status.PLAYING)
        .order_by("pk").values_list("pk", flat=True)
    )
    if live and not force:
        raise RoundError(
            f"round {number} has {len(live)} game(s) in play; wait for them to end, or pass --force to end them"
        )
    for interaction_id in live:
        play.cancel_game(interaction_id)
    return lifecycle.transition_round(round_.pk, Round.Status.CLOSED)


def _check_hyperparameters(name: str, hyperparameters) -> None:
    """A system's settings that bot turns read (e.g. ``{"decoding": {"temperature": 1.0, "mode":
    "restricted"|"constrained"}}``) must be valid before any game uses them: the bot backend says."""
    problems = bot_backend().system_problems(hyperparameters)
    if problems:
        raise RoundError(f"system {name}: {problems[0]}")


def _check_model_checkpoints(checkpoint_ids: list[int]) -> None:
    """Refuse to open a round whose model files are missing: a clear error now, not mid-game."""
    backend = bot_backend()
    for checkpoint_id in sorted(set(checkpoint_ids)):
        problems = backend.checkpoint_problems(checkpoint_id)
        if problems:
            raise RoundError(problems[0])
