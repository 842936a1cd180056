"""Supervised training of a listener policy on given actions (imitation: maximise log p(action)).

Backend-agnostic: the policy gives differentiable ``log_probs(model, examples)``; the caller passes the
module being trained (the base model itself when training from scratch, a peft model for a LoRA adapter).
AdamW, linear warm-up then cosine or constant learning rate, gradient clipping, seeded batches.
"""
from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch

from training.learning.settings import TrainConfig
from training.policies.base import ScoreExample


@dataclass
class TrainReport:
    steps: int
    examples: int
    seconds: float
    first_loss: float
    final_loss: float
    curve: list[tuple[int, float]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def learning_rate_at(step: int, config: TrainConfig) -> float:
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return config.learning_rate
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.learning_rate * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def batches(n: int, batch_size: int, seed: int):
    """Endless epochs of shuffled index batches (the last short batch of an epoch is kept)."""
    rng = random.Random(seed)
    order = list(range(n))
    while True:
        rng.shuffle(order)
        for start in range(0, n, batch_size):
            yield order[start: start + batch_size]


def train_supervised(
    policy,
    model: torch.nn.Module,
    examples: Sequence[ScoreExample],
    config: TrainConfig,
    *,
    progress: Callable[[int, float], None] | None = None,
) -> TrainReport:
    """Minimise the mean negative log-probability of ``examples``' actions under ``policy`` with
    ``model``'s trainable parameters. The model is left in eval mode."""
    if not examples:
        raise ValueError("no training examples")
    torch.manual_seed(config.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    model.train()
    started = time.monotonic()
    curve: list[tuple[int, float]] = []
    window: list[float] = []
    first = float("nan")
    order = batches(len(examples), config.batch_size, config.seed)
    try:
        for step in range(config.steps):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_at(step, config)
            batch = [examples[i] for i in next(order)]
            loss = -policy.log_probs(model, batch).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            value = float(loss.detach())
            if step == 0:
                first = value
            window.append(value)
            if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
                mean = sum(window) / len(window)
                curve.append((step + 1, round(mean, 5)))
                window.clear()
                if progress:
                    progress(step + 1, mean)
    finally:
        model.eval()
    return TrainReport(
        steps=config.steps, examples=len(examples), seconds=round(time.monotonic() - started, 2),
        first_loss=round(first, 5), final_loss=curve[-1][1] if curve else first, curve=curve,
    )


@torch.inference_mode()
def exact_match_accuracy(policy, model: torch.nn.Module, examples: Sequence[ScoreExample], batch_size: int = 128) -> float:
    """Share of examples whose greedy action (most likely toggles) is exactly the given action."""
    from training.policies.compact_listener import greedy_toggles

    hits = 0
    for start in range(0, len(examples), batch_size):
        batch = examples[start: start + batch_size]
        logits = policy.logits(model, [policy.encode(ex.request) for ex in batch])
        picked = greedy_toggles(logits.float())
        gold = torch.tensor([policy.toggles_of(ex) for ex in batch])
        hits += int((picked.cpu() == gold).all(-1).sum())
    return hits / len(examples)
