"""The round lifecycle of the learning loop: train a round's systems, and advance a round all the way
to the next one.

    open --close_round--> closed --decode_feedback--> decoded --train_round--> trained --launch--> next round

Every step is idempotent and resumable: it looks at what is already done (the round's status, the
runs that succeeded, the next round if it exists) and does only the rest, so a step killed at any
point finishes when run again, without duplicating a label, a run, a checkpoint or a round. A step
whose precondition fails raises ``TrainingError`` with a one-line reason and changes nothing.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from feedback.services.decoding import DecodeError, decode_round
from games import selectors as games_selectors
from games.services import lifecycle
from games.services.rounds import RoundError, close_round, launch_round
from training.models import TrainingRun
from training.services.runs import TrainingError, execute_run, is_dead, plan_round_runs

Progress = Callable[[str], None]
POLL_SECONDS = 2.0


def _quiet(message: str) -> None:
    pass


def _plan(round_number: int) -> dict:
    try:
        return games_selectors.round_plan(round_number)
    except LookupError as exc:
        raise TrainingError(str(exc)) from None


def dispatch_run(run: TrainingRun) -> None:
    """Hand a run to a ``training`` worker (``TRAINING_DISPATCH=celery``), or train it here (``inline``)."""
    if settings.TRAINING_DISPATCH == "inline":
        execute_run(run.pk)
        return
    from training.tasks import train_run

    train_run.apply_async(args=(run.pk,))


def train_round(
    round_number: int, *, wait: bool = True, timeout: float | None = None, progress: Progress = _quiet,
) -> list[TrainingRun]:
    """Train every learning system of a decoded round (one ``TrainingRun`` each) and mark the round
    trained when all succeeded. Runs that already succeeded are kept; failed and dead ones run again."""
    plan = _plan(round_number)
    if plan["status"] == "trained":
        return list(TrainingRun.objects.filter(round__number=round_number).select_related("system", "checkpoint"))
    if plan["status"] != "decoded":
        raise TrainingError(
            f"round {round_number} is {plan['status']}: close it and decode its feedback first "
            f"(advance_round does every step)"
        )
    runs = plan_round_runs(round_number)
    for run in runs:
        run.refresh_from_db()
        if run.status == TrainingRun.Status.SUCCEEDED:
            progress(f"{run.system.name}: already trained ({run.checkpoint.name})")
        elif run.status == TrainingRun.Status.RUNNING and not is_dead(run):
            progress(f"{run.system.name}: being trained by {run.worker}")
        else:
            progress(f"{run.system.name}: training ({run.objective}) ...")
            dispatch_run(run)
    if not wait:
        return runs
    give_up = time.monotonic() + (timeout if timeout is not None else settings.TRAINING_WAIT_SECONDS)
    while True:
        states = dict(TrainingRun.objects.filter(pk__in=[r.pk for r in runs]).values_list("pk", "status"))
        if all(s in (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED) for s in states.values()):
            break
        if time.monotonic() > give_up:
            raise TrainingError(f"round {round_number}: training runs still running after the wait; re-run to keep waiting")
        time.sleep(POLL_SECONDS)
    runs = list(TrainingRun.objects.filter(pk__in=[r.pk for r in runs]).select_related("system", "checkpoint"))
    failed = [r for r in runs if r.status == TrainingRun.Status.FAILED]
    if failed:
        lines = "; ".join(f"{r.system.name}: {(r.log.strip().splitlines() or ['failed'])[-1]}" for r in failed)
        raise TrainingError(f"round {round_number}: training failed ({lines}); re-run train_round to retry")
    for run in runs:
        progress(f"{run.system.name}: {run.checkpoint.name} in {run.seconds or 0:.0f} s")
    lifecycle.transition_round(plan["id"], "trained")
    return runs


def next_round_systems(round_number: int) -> list[tuple[str, int | None]]:
    """What the next round deploys: each learning system with the checkpoint its run after this
    round registered; every other system (CONTROL, baselines, HH) with the same checkpoint again."""
    trained = dict(
        TrainingRun.objects.filter(round__number=round_number, status=TrainingRun.Status.SUCCEEDED)
        .values_list("system_id", "checkpoint_id")
    )
    systems = []
    for dep in games_selectors.round_deployments(round_number):
        learns = dep["listener_kind"] == "model" and dep["objective"] != "none"
        if learns and dep["system_id"] not in trained:
            raise TrainingError(f"system {dep['system_name']} has no trained checkpoint after round {round_number}")
        systems.append((dep["system_name"], trained[dep["system_id"]] if learns else dep["checkpoint_id"]))
    return systems


@dataclass
class AdvanceReport:
    round_number: int
    steps: list[str] = field(default_factory=list)
    next_round: int | None = None


def advance_round(
    round_number: int | None = None, *, force: bool = False, launch_next: bool = True, progress: Progress = _quiet,
) -> AdvanceReport:
    """close -> decode -> train -> launch the next round with the new checkpoints, each step only if it
    is not done yet. ``force`` ends games still in play when closing; ``launch_next=False`` stops after
    training."""
    number = round_number if round_number is not None else games_selectors.latest_round_number()
    if number is None:
        raise TrainingError("there is no round to advance (launch_round first)")
    report = AdvanceReport(number)
    status = _plan(number)["status"]
    if status == "draft":
        raise TrainingError(f"round {number} is a draft: nothing has been played")
    if status == "open":
        try:
            close_round(number, force=force)
        except RoundError as exc:
            raise TrainingError(str(exc)) from None
        report.steps.append("closed")
        progress(f"round {number} closed")
        status = "closed"
    if status == "closed":
        try:
            decoded = decode_round(number, mark_decoded=True, progress=progress)
        except DecodeError as exc:
            raise TrainingError(f"decoding round {number}: {exc}") from None
        if not decoded.marked_decoded and _plan(number)["status"] != "decoded":
            raise TrainingError(f"round {number} could not be marked decoded")
        report.steps.append("decoded")
        status = "decoded"
    if status == "decoded":
        train_round(number, progress=progress)
        report.steps.append("trained")
    if not launch_next:
        return report
    following = number + 1
    try:
        games_selectors.round_plan(following)
        report.next_round = following
        progress(f"round {following} exists already")
        return report
    except LookupError:
        pass
    plan = _plan(number)
    try:
        launched = launch_round(
            systems=next_round_systems(number), number=following, queue_size=plan["queue_size"],
            split=plan["split"] or "train", seed=following, settings=plan["settings"],
        )
    except RoundError as exc:
        raise TrainingError(f"launching round {following}: {exc}") from None
    report.steps.append("launched")
    report.next_round = launched.number
    progress(f"round {launched.number} open")
    return report


__all__ = ["train_round", "advance_round", "AdvanceReport", "next_round_systems", "dispatch_run"]
