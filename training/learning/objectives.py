"""The retraining objectives of the learning loop, as pure functions of log-probabilities (torch only).

Each function returns one loss per example (the trainer averages them over the batch). Inputs:

* ``logp``: log π(a) of each example's action under the policy being trained (differentiable);
* ``length``: the action's length normaliser N (the number of action tokens for a language model,
  1 for the compact listener, whose actions are one exact distribution over toggles);
* ``smoothing``: S, the cross-entropy of the policy's output against a uniform distribution (over
  the vocabulary per answer token for a language model, over select/keep per image for the compact
  listener), averaged per example (differentiable);
* ``logged_probability``: the probability the deployed policy gave the logged action when it acted
  (stored on the turn; sentinels are excluded before this point), clamped at ``PROBABILITY_FLOOR``.

Settings and formulas follow the study (reference/original-system.md §4.2 and §4.4):

* SUP, filtered supervised learning on positives (and the seed data): ``0.9·(−log π(a)/N) + 0.1·S`` —
  token cross-entropy with label smoothing 0.1;
* RL, REINFORCE with rewards +1 / −0.1: ``L = −d·r·log π(a)/N`` with d = 1 for positive rewards and the
  detached importance weight ``π(a)/π_old(a)`` for negative ones, then ``0.9·L + 0.1·|r|·S``;
* KTO with β = 0.5: ρ = log π(a) − log π_ref(a); desirable ``1 − σ(β(ρ − z))``, undesirable
  ``1 − σ(β(z − ρ))``; then ``0.99·kto + 0.01·S``. As TRL's ``KTOTrainer`` computes it, the reference
  point z is the batch mean of log π(y') − log π_ref(y') over mismatched ("unrelated") actions y',
  clamped at 0 and detached (``kto_reference_point``). π_ref of a logged action is its logged
  probability (as the study); see ``training.learning.datasets`` for the unrelated action.
"""
from __future__ import annotations

import math

import torch

from training.learning.settings import KTO_BETA, KTO_SMOOTHING, PROBABILITY_FLOOR, RL_SMOOTHING, SUP_SMOOTHING



def clamped_log(probability: torch.Tensor, floor: float = PROBABILITY_FLOOR) -> torch.Tensor:
    """log max(p, floor): logged probabilities never give ratios beyond 1/floor."""
    return torch.log(probability.clamp(min=floor))


def sup_loss(logp: torch.Tensor, length: torch.Tensor, smoothing: torch.Tensor,
             label_smoothing: float = SUP_SMOOTHING) -> torch.Tensor:
    """Cross-entropy of the given actions with label smoothing."""
    return (1 - label_smoothing) * (-logp / length) + label_smoothing * smoothing


def reinforce_loss(
    logp: torch.Tensor,
    reward: torch.Tensor,
    logged_probability: torch.Tensor,
    length: torch.Tensor,
    smoothing: torch.Tensor,
    *,
    label_smoothing: float = RL_SMOOTHING,
    floor: float = PROBABILITY_FLOOR,
) -> torch.Tensor:
    """REINFORCE with an importance weight on negative examples (positives are unweighted)."""
    ratio = torch.exp(logp.detach() - clamped_log(logged_probability, floor))
    weight = torch.where(reward > 0, torch.ones_like(ratio), ratio)
    loss = -weight * reward * logp / length
    return (1 - label_smoothing) * loss + label_smoothing * reward.abs() * smoothing


def kto_reference_point(logp_unrelated: torch.Tensor, reference_logp_unrelated: torch.Tensor) -> torch.Tensor:
    """z: the mean log-ratio of the policy to the reference on unrelated actions, clamped at 0, detached."""
    if logp_unrelated.numel() == 0:
        return torch.zeros((), dtype=logp_unrelated.dtype)
    return (logp_unrelated.detach() - reference_logp_unrelated).mean().clamp(min=0)


def kto_loss(
    logp: torch.Tensor,
    reference_logp: torch.Tensor,
    desirable: torch.Tensor,
    reference_point: torch.Tensor,
    smoothing: torch.Tensor,
    *,
    beta: float = KTO_BETA,
    label_smoothing: float = KTO_SMOOTHING,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> torch.Tensor:
    """KTO (Ethayarajh et al. 2024, eqn. 7) per example, with the study's smoothing term."""
    if not beta > 0 or not math.isfinite(beta):
        raise ValueError(f"beta must be a positive number; got {beta!r}")
    rho = logp - reference_logp
    chosen = desirable_weight * (1 - torch.sigmoid(beta * (rho - reference_point)))
    rejected = undesirable_weight * (1 - torch.sigmoid(beta * (reference_point - rho)))
    loss = torch.where(desirable, chosen, rejected)
    return (1 - label_smoothing) * loss + label_smoothing * smoothing


__all__ = ["clamped_log", "sup_loss", "reinforce_loss", "kto_reference_point", "kto_loss"]
