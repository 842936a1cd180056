"""Supervised LoRA training on an Idefics-family base (the real-model path of ``train_seed``): the loss the
supervised trainer minimises.

The loss is the study's: token cross-entropy over the answer tokens only (end token included), with
label smoothing 0.1, averaged over a sequence's tokens, then over the batch (original-system.md §4.2).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from training.learning.objectives import sup_loss
from training.policies.base import ScoreExample


class HFTrainable:
    """Gives an ``HFPolicy`` the ``log_probs(model, examples)`` the supervised trainer minimises:
    minus the smoothed per-token cross-entropy of the answer (so the trainer's "-mean" is the loss)."""

    def __init__(self, policy, label_smoothing: float = 0.1):
        self.policy = policy
        self.label_smoothing = label_smoothing

    def log_probs(self, model, examples: Sequence[ScoreExample]) -> torch.Tensor:
        terms = self.policy.train_terms(model, examples)
        logp, length, smoothing = terms.logp, terms.length, terms.smoothing
        return -sup_loss(logp, length, smoothing, self.label_smoothing)
