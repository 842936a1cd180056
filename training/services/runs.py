"""Training runs of the learning loop: one per learning system after each round.

``plan_round_runs`` makes (or finds) the ``TrainingRun`` of every learning system deployed in a round;
``execute_run`` trains one: it claims the run (compare-and-set, so two workers never train the same
run), builds D≤ρ from the system's own deployments and the initial policy's seed data, trains a fresh
LoRA adapter on the initial policy's base (or continues from the last adapter when the system asks),
keeps the weights that do best on the held-out set (good listener actions of human–human study games
when the rounds had any, as the study; else a slice of the system's own games), saves the adapter
atomically and registers the new ``PolicyCheckpoint`` in the same transaction that marks the run
succeeded. A failure marks the run
failed with its traceback and registers nothing; a run whose worker died (no heartbeat for
``TRAINING_RUN_STALE_SECONDS``, or its process is gone on this host) is claimed again and restarts
from scratch (training is deterministic under its seed).
"""
from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from feedback.selectors import labels_by_turn
from feedback.services.decoding import decoder_for_deployment
from games import selectors as games_selectors
from training.learning.datasets import INTERACTION_TASK, Dataset, LoggedTurn, build_dataset, unrelated_action
from training.learning.retrain import retrain
from training.learning.settings import RetrainError, RetrainSettings
from training.models import PolicyCheckpoint, TrainingRun
from training.policies.base import ScoreExample

log = logging.getLogger(__name__)


NEEDS_LABELS = ("sup", "rl", "kto")  # the objectives that learn from decoded feedback


class TrainingError(ValueError):
    """A training step that cannot run as asked (a precondition failed); nothing was changed."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def initial_policy_of(checkpoint: PolicyCheckpoint) -> PolicyCheckpoint:
    """The root of a checkpoint's lineage: the initial policy every round retrains from."""
    seen = set()
    while checkpoint.parent_id is not None and checkpoint.pk not in seen:
        seen.add(checkpoint.pk)
        checkpoint = checkpoint.parent
    return checkpoint


def system_settings(hyperparameters) -> RetrainSettings:
    """A system's training settings (``hyperparameters["training"]``); TrainingError if invalid."""
    try:
        raw = (hyperparameters or {}).get("training") if isinstance(hyperparameters, dict) else None
        return RetrainSettings.from_dict(raw)
    except RetrainError as exc:
        raise TrainingError(str(exc)) from None


# --- planning ---------------------------------------------------------------------------------------


def plan_round_runs(round_number: int) -> list[TrainingRun]:
    """The training run of every learning system (a model listener with an objective) deployed in the
    round, created on first call and found again afterwards."""
    try:
        deployments = games_selectors.round_deployments(round_number)
    except LookupError as exc:
        raise TrainingError(str(exc)) from None
    runs = []
    for dep in deployments:
        if dep["listener_kind"] != "model" or dep["objective"] == "none":
            continue
        if dep["checkpoint_id"] is None:
            raise TrainingError(f"system {dep['system_name']} has no checkpoint in round {round_number}")
        deployed = PolicyCheckpoint.objects.get(pk=dep["checkpoint_id"])
        initial = initial_policy_of(deployed)
        options = system_settings(dep["hyperparameters"])
        continue_from = deployed if options.continue_from_previous and deployed.pk != initial.pk else None
        run, _ = TrainingRun.objects.get_or_create(
            system_id=dep["system_id"], round_id=dep["round_id"],
            defaults={
                "objective": dep["objective"], "initial_checkpoint": initial, "continue_from": continue_from,
                "hyperparameters": options.to_dict(),
            },
        )
        runs.append(run)
    return runs


# --- claiming ---------------------------------------------------------------------------------------


def is_dead(run: TrainingRun, now=None) -> bool:
    """A running run whose worker stopped: no heartbeat for a while, or its process is gone here."""
    if run.status != TrainingRun.Status.RUNNING:
        return False
    now = now or timezone.now()
    if run.heartbeat_at is None or now - run.heartbeat_at > timedelta(seconds=settings.TRAINING_RUN_STALE_SECONDS):
        return True
    host, _, pid = run.worker.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


def claim_run(run_id: int) -> bool:
    """Take a queued, failed or dead run for this process (compare-and-set); False if another has it
    or it already succeeded."""
    run = TrainingRun.objects.get(pk=run_id)
    claimable = run.status in (TrainingRun.Status.QUEUED, TrainingRun.Status.FAILED) or is_dead(run)
    if not claimable:
        return False
    now = timezone.now()
    updated = TrainingRun.objects.filter(pk=run_id, status=run.status, attempts=run.attempts).update(
        status=TrainingRun.Status.RUNNING, attempts=F("attempts") + 1, worker=worker_name(), heartbeat_at=now,
        started_at=now, finished_at=None, progress=0.0, loss_curve=[], held_out_curve=[], traceback="", log="",
    )
    return updated == 1


def _mine() -> Q:
    return Q(status=TrainingRun.Status.RUNNING, worker=worker_name())


# --- the data -------------------------------------------------------------------------------------------


def logged_turns(system_id: int, system_name: str, round_number: int) -> list[LoggedTurn]:
    """Every turn of the system's own deployments in rounds <= ``round_number`` with the label its
    decoder gave (None when not decoded)."""
    from training.selectors import played_turns_of

    games = games_selectors.recorded_games(games_selectors.system_game_ids(system_id, round_number))
    label_sets: dict[int, tuple[str | None, str | None]] = {}
    for number in sorted({g.round_number for g in games}):
        [deployment] = games_selectors.feedback_deployments(number, system_name)
        choice = decoder_for_deployment(deployment)
        label_sets[number] = (choice.name, choice.version)
    out = []
    for number, (decoder, version) in label_sets.items():
        round_games = [g for g in games if g.round_number == number]
        turn_ids = [t.id for g in round_games for t in g.turns]
        labels = labels_by_turn(turn_ids, decoder, version) if decoder else {}
        for game in round_games:
            for played, logged in zip(played_turns_of(game), game.turns):
                out.append(LoggedTurn(
                    turn=played, round=number, label=labels.get(logged.id), probability=logged.action_probability,
                    action_source=logged.action_source, game_succeeded=game.succeeded,
                    checkpoint_id=logged.checkpoint_id,
                ))
    return out


def seed_rows_of(initial: PolicyCheckpoint):
    """The initial policy's seed data again (the study retrains it with every round): the seed games its
    ``train_seed`` run used, good actions plus the augmentations, under the same seed."""
    from training.learning.examples import seed_dataset
    from training.selectors import played_turns, seed_game_ids

    options = (initial.metrics or {}).get("options") or {}
    if not options.get("games"):
        return []
    turns = played_turns(seed_game_ids(options.get("split", "dev"), int(options["games"])))
    return seed_dataset(turns, seed=int(options.get("seed", 0)))


def selection_rows(round_number: int, cap: int, seed: int):
    """What selects a run's checkpoint, as in the study: up to ``cap`` good listener actions (a good
    select or deselect) of the human–human study games of rounds <= ``round_number``, drawn under
    ``seed`` (the same for every system of the round). People's actions, not the systems' own: the
    actions a policy sampled itself favour the weights that sampled them."""
    import random

    from training.learning.examples import is_good_turn
    from training.selectors import played_turns

    if cap <= 0:
        return []
    good = [t for t in played_turns(games_selectors.human_human_game_ids(round_number)) if is_good_turn(t)]
    if len(good) > cap:
        good = random.Random(seed).sample(good, cap)
    return good


def _with_kto_references(dataset: Dataset) -> Dataset:
    """KTO's reference log-probabilities of the unrelated actions: a frozen pass of the policy that
    logged each turn (the study looked these up in its table of deployed policies)."""
    from training.policies.registry import load_checkpoint_policy

    wanted = [e for e in dataset.examples + dataset.held_out if e.task == INTERACTION_TASK]
    by_checkpoint: dict[int | None, list] = {}
    for example in wanted:
        by_checkpoint.setdefault(example.checkpoint_id, []).append(example)
    reference: dict[int, float] = {}
    for checkpoint_id, examples in by_checkpoint.items():
        if checkpoint_id is None:
            raise TrainingError("a logged model turn has no checkpoint: KTO has no reference policy for it")
        policy = load_checkpoint_policy(PolicyCheckpoint.objects.get(pk=checkpoint_id))
        scores = policy.score([
            ScoreExample(e.turn.request, select=unrelated_action(e.turn).select,
                         deselect=unrelated_action(e.turn).deselect) for e in examples
        ])
        reference.update({id(e): s for e, s in zip(examples, scores)})

    def filled(rows):
        return [replace(e, reference_unrelated_logp=reference[id(e)]) if id(e) in reference else e for e in rows]

    return replace(dataset, examples=filled(dataset.examples), held_out=filled(dataset.held_out))


# --- running ---------------------------------------------------------------------------------------------


@dataclass
class _Reporter:
    run_id: int
    steps: int
    lines: list

    def say(self, message: str) -> None:
        stamp = timezone.now().strftime("%H:%M:%S")
        self.lines.append(f"{stamp} {message}")
        log.info("training run %s: %s", self.run_id, message)
        TrainingRun.objects.filter(Q(pk=self.run_id) & _mine()).update(
            log="\n".join(self.lines), heartbeat_at=timezone.now()
        )

    def step(self, step: int, loss: float) -> None:
        self.lines.append(f"{timezone.now().strftime('%H:%M:%S')} step {step}/{self.steps}: loss {loss:.4f}")
        run = TrainingRun.objects.filter(pk=self.run_id).values_list("loss_curve", flat=True).first() or []
        TrainingRun.objects.filter(Q(pk=self.run_id) & _mine()).update(
            progress=min(1.0, step / self.steps), loss_curve=[*run, [step, round(loss, 5)]],
            log="\n".join(self.lines), heartbeat_at=timezone.now(),
        )


def checkpoint_name(run: TrainingRun) -> str:
    return f"{run.system.name}-r{run.round.number}"


def execute_run(run_id: int) -> TrainingRun:
    """Train one run to the end (see the module docstring). Returns the run as it ended; a run that
    already succeeded, or that another live worker holds, is returned unchanged."""
    from training.policies.compact_listener import is_listener_folder
    from training.policies.loading import staged_folder
    from training.policies.trainable import open_for_training
    from training.selectors import tangram_pngs

    if not claim_run(run_id):
        return TrainingRun.objects.get(pk=run_id)
    run = TrainingRun.objects.select_related("system", "round", "initial_checkpoint", "continue_from").get(pk=run_id)
    options = RetrainSettings.from_dict(run.hyperparameters)
    reporter = _Reporter(run_id, options.steps, [])
    started = time.monotonic()
    out = Path(settings.DATA_DIR) / "models" / checkpoint_name(run) / "adapter"
    try:
        reporter.say(f"attempt {run.attempts}: {run.objective} for {run.system.name} on rounds <= {run.round.number}")
        initial = run.initial_checkpoint
        logged = logged_turns(run.system_id, run.system.name, run.round.number)
        if run.objective in NEEDS_LABELS and logged and not any(t.label for t in logged):
            raise TrainingError(
                f"no decoded feedback for {run.system.name} in rounds <= {run.round.number}: run decode_feedback first"
            )
        dataset = build_dataset(
            run.objective, logged, seed_rows_of(initial), binary=run.system.decoder == "binary",
            seed=options.seed, held_out_share=options.held_out_share, shuffle_contexts=options.shuffle_contexts,
            selection=selection_rows(run.round.number, options.selection_turns, options.seed),
        )
        TrainingRun.objects.filter(Q(pk=run_id) & _mine()).update(dataset_stats=dataset.stats)
        options = options.for_rows(len(dataset.examples))  # the steps of ``epochs`` passes, when set
        reporter.steps = options.steps
        reporter.say(f"dataset: {dataset.stats['rows']} rows ({dataset.stats['seed_rows']} seed, "
                     f"{dataset.stats['interaction_rows']} interaction), {dataset.stats['held_out_rows']} held out "
                     f"({dataset.stats['held_out_source']})")
        if run.objective == "kto":
            dataset = _with_kto_references(dataset)
        base_dir = Path(settings.DATA_DIR) / initial.base_model
        adapter = Path(settings.DATA_DIR) / run.continue_from.adapter_path if run.continue_from else None
        policy, model = open_for_training(base_dir, tangram_pngs, adapter_dir=adapter, seed=options.seed)
        if is_listener_folder(base_dir):
            policy.preflight(sorted({n for e in dataset.examples + dataset.held_out for n in e.turn.request.listener_order}))
        # A fresh adapter starts as the bare base model, which is never a candidate (retrain's docstring).
        report = retrain(policy, model, dataset, options, progress=reporter.step, select_start=adapter is not None)
        reporter.say(f"trained {report.steps} steps in {report.seconds:.0f} s; best held-out step {report.best_step}")
        with staged_folder(out) as staging:
            model.save_pretrained(staging)
        _register(run, out, report, dataset, time.monotonic() - started)
    except Exception as exc:
        _fail(run_id, reporter, exc, time.monotonic() - started)
    return TrainingRun.objects.get(pk=run_id)


def _relative(path: Path) -> str:
    data = Path(settings.DATA_DIR).resolve()
    path = path.resolve()
    return str(path.relative_to(data)) if path.is_relative_to(data) else str(path)


@transaction.atomic
def _register(run: TrainingRun, adapter: Path, report, dataset: Dataset, seconds: float) -> None:
    """The new checkpoint and the run's success, together (or neither)."""
    if not TrainingRun.objects.select_for_update().filter(Q(pk=run.pk) & _mine()).exists():
        raise TrainingError("the run was taken over by another worker")
    metrics = {"training": report.to_dict(), "dataset": dataset.stats, "hyperparameters": run.hyperparameters}
    checkpoint = PolicyCheckpoint.objects.create(
        name=checkpoint_name(run), base_model=run.initial_checkpoint.base_model, adapter_path=_relative(adapter),
        parent=run.initial_checkpoint, round=run.round, system=run.system, objective=run.objective, metrics=metrics,
    )
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.SUCCEEDED, checkpoint=checkpoint, progress=1.0, finished_at=timezone.now(),
        seconds=round(seconds, 1), held_out_curve=report.held_out_curve,
        metrics={"best_step": report.best_step, "rows": report.rows, "loss_curve_points": len(report.loss_curve)},
    )


def _fail(run_id: int, reporter: _Reporter, exc: Exception, seconds: float) -> None:
    log.exception("training run %s failed", run_id)
    reporter.lines.append(f"failed: {type(exc).__name__}: {exc}")
    TrainingRun.objects.filter(Q(pk=run_id) & _mine()).update(
        status=TrainingRun.Status.FAILED, traceback=traceback.format_exc(), log="\n".join(reporter.lines),
        finished_at=timezone.now(), seconds=round(seconds, 1),
    )


__all__ = [
    "TrainingError", "initial_policy_of", "system_settings", "plan_round_runs", "is_dead", "claim_run",
    "logged_turns", "seed_rows_of", "execute_run", "checkpoint_name",
]
