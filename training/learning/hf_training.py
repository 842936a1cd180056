"""Supervised LoRA training on an Idefics-family base (the real-model path of ``train_seed``).

The loss is the study's: token cross-entropy over the answer tokens only (end token included), with
label smoothing 0.1, averaged over a sequence's tokens, then over the batch (original-system.md §4.2).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from training.policies.base import ScoreExample


class HFTrainable:
    """Gives an ``HFPolicy`` the ``log_probs(model, examples)`` the supervised trainer minimises:
    minus the smoothed per-token cross-entropy of the answer (so the trainer's "-mean" is the loss)."""

    def __init__(self, policy, label_smoothing: float = 0.1):
        self.policy = policy
        self.label_smoothing = label_smoothing

    def log_probs(self, model, examples: Sequence[ScoreExample]) -> torch.Tensor:
        batch = self.policy.training_batch(examples)
        labels = batch.pop("labels")
        logits = model(**batch, use_cache=False).logits.float()[:, :-1]
        target = labels[:, 1:]
        mask = target != -100
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.clamp(min=0).reshape(-1),
            reduction="none", label_smoothing=self.label_smoothing,
        ).view(target.shape)
        return -(loss * mask).sum(-1) / mask.sum(-1).clamp(min=1)


def train_hf_adapter(base_dir: Path, adapter_dir: Path, rows, options, progress) -> dict:
    from peft import get_peft_model

    from training.learning.supervised import TrainConfig, train_supervised
    from training.policies.hf import HFPolicy, load_base, lora_config
    from training.selectors import tangram_pngs

    base = load_base(base_dir)
    torch.manual_seed(options.seed)
    base.model = get_peft_model(base.model, lora_config())
    policy = HFPolicy(base, tangram_pngs)
    report = train_supervised(
        HFTrainable(policy), base.model, [r.example() for r in rows],
        TrainConfig(steps=options.steps, batch_size=options.batch_size, learning_rate=options.learning_rate,
                    seed=options.seed, log_every=25),
        progress=lambda step, loss: progress(f"  adapter step {step}/{options.steps}: loss {loss:.3f}"),
    )
    base.model.save_pretrained(adapter_dir)
    return report.to_dict()
