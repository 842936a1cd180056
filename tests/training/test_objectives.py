"""The retraining objectives on hand-computed values (training.learning.objectives)."""
import math

import pytest
import torch

from training.learning.objectives import kto_loss, kto_reference_point, reinforce_loss, sup_loss

LOG_HALF = math.log(0.5)


def t(*values):
    return torch.tensor(values, dtype=torch.float64)


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_sup_is_cross_entropy_with_label_smoothing():
    loss = sup_loss(t(LOG_HALF, LOG_HALF), length=t(1, 2), smoothing=t(0.7, 0.7))
    assert loss.tolist() == pytest.approx([0.9 * 0.693147 + 0.07, 0.9 * 0.693147 / 2 + 0.07], abs=1e-6)


def test_reinforce_positive_examples_are_unweighted():
    loss = reinforce_loss(t(LOG_HALF), reward=t(1.0), logged_probability=t(0.2), length=t(1), smoothing=t(0.7))
    assert loss.item() == pytest.approx(0.9 * 0.693147 + 0.1 * 1 * 0.7, abs=1e-6)


def test_reinforce_negative_examples_are_weighted_by_the_detached_importance_ratio():
    logp = t(LOG_HALF).requires_grad_()
    loss = reinforce_loss(logp, reward=t(-0.1), logged_probability=t(0.25), length=t(1), smoothing=t(0.7))
    # ratio 0.5 / 0.25 = 2: L = -2 * (-0.1) * log 0.5; final 0.9 L + 0.1 * |r| * S
    assert loss.item() == pytest.approx(0.9 * (2 * 0.1 * LOG_HALF) + 0.1 * 0.1 * 0.7, abs=1e-6)
    loss.sum().backward()
    assert logp.grad.item() == pytest.approx(0.9 * 0.2)  # the weight itself carries no gradient


def test_reinforce_clamps_the_logged_probability_at_one_percent():
    loss = reinforce_loss(t(LOG_HALF), reward=t(-0.1), logged_probability=t(0.001), length=t(1), smoothing=t(0.0))
    assert loss.item() == pytest.approx(0.9 * (50 * 0.1 * LOG_HALF), abs=1e-6)  # ratio 0.5 / 0.01


def test_kto_reference_point_is_the_clamped_mean_log_ratio_on_unrelated_actions():
    z = kto_reference_point(t(math.log(0.2), math.log(0.1)), t(math.log(0.1), math.log(0.1)))
    assert z.item() == pytest.approx(math.log(2) / 2)
    assert kto_reference_point(t(math.log(0.05)), t(math.log(0.1))).item() == 0.0  # never below 0
    assert kto_reference_point(t(), t()).item() == 0.0


def test_kto_on_hand_computed_values():
    rho = math.log(0.5 / 0.25)
    loss = kto_loss(
        t(LOG_HALF, LOG_HALF), reference_logp=t(math.log(0.25), math.log(0.25)),
        desirable=torch.tensor([True, False]), reference_point=t(0.1), smoothing=t(0.7, 0.7),
    )
    desirable = 1 - sigmoid(0.5 * (rho - 0.1))
    undesirable = 1 - sigmoid(0.5 * (0.1 - rho))
    assert loss.tolist() == pytest.approx([0.99 * desirable + 0.007, 0.99 * undesirable + 0.007], abs=1e-9)


def test_kto_mirrors_trls_kto_trainer_formula():
    # TRL's KTOTrainer (loss_type "kto"): kl = (KL_logps - ref_KL_logps).mean().clamp(min=0);
    # chosen = 1 - sigmoid(beta * ((logps - ref_logps) - kl)); rejected = 1 - sigmoid(beta * (kl - (logps - ref_logps))).
    generator = torch.Generator().manual_seed(3)
    logps, ref_logps = -torch.rand(6, generator=generator, dtype=torch.float64) * 3, -torch.rand(6, generator=generator, dtype=torch.float64) * 3
    kl_logps, ref_kl_logps = -torch.rand(6, generator=generator, dtype=torch.float64) * 3, -torch.rand(6, generator=generator, dtype=torch.float64) * 3
    labels = torch.tensor([True, False, True, True, False, False])
    beta = 0.1
    kl = (kl_logps - ref_kl_logps).mean().clamp(min=0)
    trl = torch.where(labels, 1 - torch.sigmoid(beta * ((logps - ref_logps) - kl)),
                      1 - torch.sigmoid(beta * (kl - (logps - ref_logps))))
    ours = kto_loss(logps, ref_logps, labels, kto_reference_point(kl_logps, ref_kl_logps), torch.zeros(6),
                    beta=beta, label_smoothing=0.0)
    assert torch.allclose(ours, trl)


def test_kto_pushes_desirable_actions_up_and_undesirable_ones_down():
    logp = t(-1.0, -1.0).requires_grad_()
    loss = kto_loss(logp, t(-1.0, -1.0), torch.tensor([True, False]), t(0.0), t(0.0, 0.0))
    loss.sum().backward()
    assert logp.grad[0] < 0 < logp.grad[1]


def test_kto_refuses_a_bad_beta():
    with pytest.raises(ValueError, match="beta"):
        kto_loss(t(-1.0), t(-1.0), torch.tensor([True]), t(0.0), t(0.0), beta=0)
