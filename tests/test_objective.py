"""ffld.train.objective.MultiLoss: each prediction gets its own loss (Sect. 4), computed here by hand, and Align Loss
moves only the prediction (its feature maps are detached)."""

import itertools

import pytest
import torch

from ffld.losses import align_loss
from ffld.models.network import FFLDOutput
from ffld.train.config import PAPER_LOSSES
from ffld.train.objective import MultiLoss

STAGE_LEVELS = [3, 2, 1]  # the paper's: stage 1 crops level 3 (stride 8), ..., stage 3 level 1 (stride 2)


def _output(generator: torch.Generator) -> tuple[FFLDOutput, torch.Tensor, torch.Tensor]:
    """Leaf tensors shaped as FFLD's output for 2 faces of 5 landmarks on a 64×64 input, a target and IODs."""
    target = torch.rand(2, 5, 2, generator=generator) * 40 + 12
    stages = [(target + torch.randn(2, 5, 2, generator=generator) * s).requires_grad_() for s in (4, 3, 2, 1)]
    features = [
        torch.rand(2, 4, 64 // stride, 64 // stride, generator=generator).requires_grad_() for stride in (2, 4, 8)
    ]
    deltas = [b - a for a, b in itertools.pairwise(stages)]
    return FFLDOutput(stages, deltas, features), target, torch.tensor([30.0, 25.0])


def test_each_stage_gets_its_loss_and_the_total_its_weights():
    output, target, iod = _output(torch.Generator().manual_seed(0))
    weights = [1.0, 0.5, 2.0, 3.0]
    objective = MultiLoss(list(PAPER_LOSSES), weights, STAGE_LEVELS)
    total, per_stage = objective(output, target, iod)
    s0, s1, s2, s3 = output.stages
    by_hand = [
        ((s0 - target) ** 2).sum(dim=(1, 2)).div(iod).mean(),  # Eq. 1
        ((s1 - target) ** 2).sum(dim=(1, 2)).mean(),
        (s2 - target).abs().sum(dim=(1, 2)).mean(),
        align_loss(output.features[0].detach(), s3 / 2, target / 2),  # level 1, stride 2, Eq. 2
    ]
    for mine, expected in zip(per_stage, by_hand, strict=True):
        torch.testing.assert_close(mine, expected, rtol=1e-6, atol=0)
    torch.testing.assert_close(
        total, sum(w * loss for w, loss in zip(weights, by_hand, strict=True)), rtol=1e-6, atol=0
    )

    total.backward()
    assert all(features.grad is None for features in output.features)  # Align Loss moves S3, not the features
    assert all(stage.grad.abs().sum() > 0 for stage in output.stages)


def test_align_loss_crops_the_level_of_its_stage():
    """Stage 2 crops level 2 (stride 4): an Align Loss on S2 reads level 2 at S2 / 4."""
    output, target, iod = _output(torch.Generator().manual_seed(1))
    objective = MultiLoss(["iod_l2", "l2", "align", "l1"], [1.0] * 4, STAGE_LEVELS, align_sigma=None)
    expected = align_loss(output.features[1].detach(), output.stages[2] / 4, target / 4, sigma=None)
    torch.testing.assert_close(objective.stage_loss(2, output, target, iod), expected, rtol=1e-6, atol=0)


def test_unknown_loss_is_named():
    output, target, iod = _output(torch.Generator().manual_seed(2))
    with pytest.raises(ValueError, match="unknown loss 'l3'"):
        MultiLoss(["iod_l2", "l3", "l1", "align"], [1.0] * 4, STAGE_LEVELS)(output, target, iod)


@pytest.mark.parametrize(
    ("losses", "weights", "levels", "message"),
    [
        (["align", "l2", "l1", "align"], [1.0] * 4, STAGE_LEVELS, "Align Loss needs a refinement stage's feature"),
        (["iod_l2", "l2", "l1", "align"], [1.0] * 3, STAGE_LEVELS, "4 losses but 3 weights"),
        (["iod_l2", "l2", "l1", "align"], [1.0] * 4, STAGE_LEVELS[:2], "4 losses .* need 3 stage levels, got 2"),
    ],
)
def test_an_objective_that_does_not_fit_its_stages_is_refused(losses, weights, levels, message):
    """S0 has no feature level for Align Loss (it read the last stage's level), and the weights and levels must match
    the losses (a mismatch failed only when the loss was computed, with an IndexError or zip's ValueError)."""
    with pytest.raises(ValueError, match=message):
        MultiLoss(losses, weights, levels)
