"""The retraining loop of a round: one objective over a ``Dataset`` (torch; backend-agnostic).

Two tasks are trained together, as in the study: the seed data (imitation, SUP loss) and the
interaction data (the objective's loss). Each step takes one batch of one task, the task drawn in
proportion to its size (as shuffling all batches of all tasks together per epoch does). The policy
gives differentiable ``train_terms(model, examples) -> TrainTerms`` (``training.policies.base``) (log π(a), the action's length
normaliser, the smoothing term S); both model backends provide it.

Checkpoint selection: before the first step, every ``eval_every`` steps and at the end, the held-out desirable
actions are scored by *accuracy*: the share the policy would answer greedily (the study's metric, raw
accuracy on a held-out set); the trainable weights of the first best evaluation are restored at the end
(the start competes only when ``select_start``: not for a fresh adapter, whose start is the bare base).
Not their mean log-probability: when they are a system's own actions, sampled by the policy that
logged them, a likelihood favours the starting weights (docs/learning-loop.md, "Checkpoint
selection"); which actions are held out is the dataset's choice (people's, when there are any).
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch

from training.learning.datasets import INTERACTION_TASK, OBJECTIVES, SEED_TASK, Dataset, TrainingExample, unrelated_action
from training.learning.objectives import (
    clamped_log,
    kto_loss,
    kto_reference_point,
    reinforce_loss,
    sup_loss,
)
from training.learning.settings import RetrainError, RetrainSettings
from training.learning.supervised import batches, learning_rate_at
from training.policies.base import ScoreExample


@dataclass
class RetrainReport:
    steps: int
    rows: dict
    seconds: float
    loss_curve: list = field(default_factory=list)  # [step, mean loss]
    held_out_curve: list = field(default_factory=list)  # [step, held-out accuracy]
    best_step: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def score_example(example: TrainingExample, unrelated: bool = False) -> ScoreExample:
    turn = example.turn
    action = unrelated_action(turn) if unrelated else turn.action
    return ScoreExample(turn.request, select=action.select, deselect=action.deselect)


def example_losses(policy, model, objective: str, task: str, batch: Sequence[TrainingExample], *,
                   beta: float) -> torch.Tensor:
    """Per-example losses of one batch of one task."""
    terms = policy.train_terms(model, [score_example(e) for e in batch])
    logp, length, smoothing = terms.logp, terms.length.to(terms.logp.dtype), terms.smoothing
    if task == SEED_TASK or objective in ("sup", "seed_only"):
        return sup_loss(logp, length, smoothing)
    reward = torch.tensor([e.reward for e in batch], dtype=logp.dtype, device=logp.device)
    logged = torch.tensor([e.logged_probability for e in batch], dtype=logp.dtype, device=logp.device)
    if objective in ("rl", "final_reward"):
        return reinforce_loss(logp, reward, logged, length, smoothing)
    if objective == "kto":
        if any(e.reference_unrelated_logp is None for e in batch):
            raise RetrainError("KTO needs the reference log-probabilities of the unrelated actions")
        unrelated = policy.train_terms(model, [score_example(e, unrelated=True) for e in batch]).logp
        reference = torch.tensor([e.reference_unrelated_logp for e in batch], dtype=logp.dtype, device=logp.device)
        z = kto_reference_point(unrelated, reference)
        return kto_loss(logp, clamped_log(logged), reward > 0, z, smoothing, beta=beta)
    raise RetrainError(f"unknown objective {objective!r}")


@torch.no_grad()
def held_out_score(policy, model, examples: Sequence[TrainingExample], batch_size: int) -> float | None:
    """The share of the held-out desirable actions that are the policy's greedy answer (None when
    there are none)."""
    wanted = [e for e in examples if e.desirable]
    if not wanted:
        return None
    hits = 0
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(wanted), batch_size):
            batch = wanted[start: start + batch_size]
            hits += int(policy.train_terms(model, [score_example(e) for e in batch]).greedy.sum())
    finally:
        model.train(was_training)
    return hits / len(wanted)


def retrain(
    policy,
    model: torch.nn.Module,
    dataset: Dataset,
    settings: RetrainSettings,
    *,
    progress: Callable[[int, float], None] | None = None,
    select_start: bool = True,
) -> RetrainReport:
    """Train ``model``'s trainable parameters on ``dataset`` for ``settings.steps`` steps (or
    ``settings.epochs`` passes over its training rows: ``RetrainSettings.for_rows``); the best held-out
    weights are restored at the end. The model is left in eval mode.

    ``select_start``: whether the starting weights may be the ones kept. A training run passes False
    for a fresh adapter: its start is the bare base model (no seed adapter), a policy nobody deploys
    (the study selected among epochs, never the untrained start); its step-0 accuracy is still
    recorded in the held-out curve."""
    objective = dataset.objective
    if objective not in OBJECTIVES:
        raise RetrainError(f"unknown objective {objective!r}")
    tasks = {name: dataset.task(name) for name in (SEED_TASK, INTERACTION_TASK)}
    tasks = {name: rows for name, rows in tasks.items() if rows}
    if not tasks:
        raise RetrainError("the dataset has no training rows")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise RetrainError("the model has no trainable parameters")
    settings = settings.for_rows(len(dataset.examples))
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    names = sorted(tasks)
    weights = [len(tasks[n]) for n in names]
    streams = {n: batches(len(tasks[n]), settings.batch_size, settings.seed + i) for i, n in enumerate(names)}
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    report = RetrainReport(steps=settings.steps, rows={n: len(r) for n, r in tasks.items()}, seconds=0.0)
    best_score, best_state = None, None

    def evaluate(step: int) -> None:
        nonlocal best_score, best_state
        score = held_out_score(policy, model, dataset.held_out, settings.batch_size)
        if score is None:
            return
        report.held_out_curve.append([step, round(score, 5)])
        if step == 0 and not select_start:
            return
        if best_score is None or score > best_score:
            best_score, report.best_step = score, step
            best_state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    started = time.monotonic()
    window: list[float] = []
    model.train()
    try:
        evaluate(0)
        for step in range(settings.steps):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_at(step, settings)
            task = rng.choices(names, weights)[0]
            batch = [tasks[task][i] for i in next(streams[task])]
            loss = example_losses(policy, model, objective, task, batch, beta=settings.kto_beta).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if settings.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
            optimizer.step()
            window.append(float(loss.detach()))
            done = step + 1
            if done % settings.log_every == 0 or done == settings.steps:
                mean = sum(window) / len(window)
                report.loss_curve.append([done, round(mean, 5)])
                window.clear()
                if progress:
                    progress(done, mean)
            if done % settings.eval_every == 0 or done == settings.steps:
                evaluate(done)
        if best_state is not None:
            with torch.no_grad():
                for n, p in model.named_parameters():
                    if n in best_state:
                        p.copy_(best_state[n])
    finally:
        model.eval()
    report.seconds = round(time.monotonic() - started, 2)
    return report


__all__ = ["RetrainError", "RetrainSettings", "RetrainReport", "example_losses", "held_out_score", "retrain"]
