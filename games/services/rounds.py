"""Systems and rounds: what is deployed, on which contexts, with which timing and pay."""
from __future__ import annotations

import random

from django.core.exceptions import ValidationError
from django.db import transaction

from games.domain.study_settings import SettingsError, StudySettings
from games.models import NAME_VALIDATOR, Deployment, GameConfig, Round, RoundConfig, System
from games.services import lifecycle


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
    if objective != "none" and decoder == "none":
        raise RoundError("a system that learns (objective) needs a feedback decoder")
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


def _check_hyperparameters(name: str, hyperparameters) -> None:
    """A system's settings that live games read (e.g. ``{"decoding": {"temperature": 1.0, "mode":
    "restricted"|"constrained"}}``) must be valid before any game uses them."""
    from training.policies.base import decoding_from_hyperparameters

    try:
        decoding_from_hyperparameters(hyperparameters)
    except ValueError as exc:
        raise RoundError(f"system {name}: {exc}") from None


def _check_model_checkpoints(checkpoint_ids: list[int]) -> None:
    """Refuse to open a round whose model files are missing: a clear error now, not mid-game."""
    from training.models import PolicyCheckpoint
    from training.services.checkpoints import checkpoint_problems

    for checkpoint in PolicyCheckpoint.objects.filter(pk__in=checkpoint_ids):
        problems = checkpoint_problems(checkpoint)
        if problems:
            raise RoundError(f"checkpoint {checkpoint.name}: {problems[0]}")
