"""ffld.losses against hand computations (Eq. 1, Eq. 2, Sect. 4.2, Feng et al. 2018)."""

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from ffld.losses import align_loss, gaussian_kernel, iod_l2_loss, l1_loss, l2_loss, wing_loss

# Two samples of two landmarks. Sample 0 errs by (3, 4) on landmark 0; sample 1 by (1, -2) and (0, 2).
PRED = torch.tensor([[[0.0, 0.0], [1.0, 1.0]], [[2.0, 0.0], [5.0, 7.0]]], dtype=torch.float64)
TARGET = torch.tensor([[[3.0, 4.0], [1.0, 1.0]], [[1.0, 2.0], [5.0, 5.0]]], dtype=torch.float64)


def test_iod_l2_loss_eq1():
    iod = torch.tensor([5.0, 2.0], dtype=torch.float64)
    # sample 0: (9 + 16) / 5 = 5; sample 1: (1 + 4 + 0 + 4) / 2 = 4.5; mean 4.75
    assert iod_l2_loss(PRED, TARGET, iod).item() == pytest.approx(4.75, abs=1e-12)


def test_l2_and_l1_losses():
    assert l2_loss(PRED, TARGET).item() == pytest.approx((25 + 9) / 2, abs=1e-12)
    assert l1_loss(PRED, TARGET).item() == pytest.approx((7 + 5) / 2, abs=1e-12)


def test_wing_loss_both_branches():
    pred = torch.tensor([[[1.0, 12.0]]], dtype=torch.float64)
    target = torch.zeros_like(pred)
    # |x| = 1 < w: 10 ln(1 + 1/2); |x| = 12 >= w: 12 - (10 - 10 ln(1 + 10/2)).
    expected = 10 * math.log(1.5) + 12 - (10 - 10 * math.log(6))
    assert wing_loss(pred, target).item() == pytest.approx(expected, abs=1e-12)
    # Continuous at |x| = w.
    below = wing_loss(torch.tensor([[[10 - 1e-9, 0.0]]], dtype=torch.float64), target)
    above = wing_loss(torch.tensor([[[10 + 1e-9, 0.0]]], dtype=torch.float64), target)
    assert (above - below).abs().item() < 1e-8


def test_gaussian_kernel_values():
    kernel = gaussian_kernel(3, 1.0)
    total = (1 + 2 * math.exp(-0.5)) ** 2
    assert kernel[1, 1].item() == pytest.approx(1 / total, abs=1e-15)
    assert kernel[0, 1].item() == pytest.approx(math.exp(-0.5) / total, abs=1e-15)
    assert kernel[0, 0].item() == pytest.approx(math.exp(-1.0) / total, abs=1e-15)
    with pytest.raises(ValueError):
        gaussian_kernel(4, 1.0)


def _feature_map() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(1, 2, 20, 20, dtype=torch.float64, generator=generator)


@pytest.mark.parametrize("sigma", [None, 1.0])
def test_align_loss_eq2_by_hand(sigma):
    """At half-integer centres an 8×8 crop is an exact window of the map (samples on pixel centres)."""
    features = _feature_map()
    target = torch.tensor([[[9.5, 8.5], [6.5, 11.5]]], dtype=torch.float64)
    pred = torch.tensor([[[10.5, 8.5], [5.5, 13.5]]], dtype=torch.float64)
    expected = 0.0
    for (tx, ty), (px, py) in zip(target[0].tolist(), pred[0].tolist(), strict=True):
        windows = []
        for x, y in ((tx, ty), (px, py)):
            x0, y0 = int(x - 3.5), int(y - 3.5)
            window = features[0, :, y0 : y0 + 8, x0 : x0 + 8].numpy()
            if sigma is not None:
                weights = gaussian_kernel(3, sigma).numpy()
                window = np.stack([ndimage.convolve(c, weights, mode="constant", cval=0.0) for c in window])
            windows.append(window)
        expected += ((windows[0] - windows[1]) ** 2).sum()
    assert align_loss(features, pred, target, sigma=sigma).item() == pytest.approx(expected, rel=1e-12)


def test_align_loss_is_zero_along_a_straight_boundary_and_positive_across():
    """Sect. 4.3: misalignment along a boundary costs less than across it (here: nothing at all)."""
    features = torch.zeros(1, 1, 24, 24, dtype=torch.float64)
    features[..., 12:] = 1.0  # a vertical boundary between columns 11 and 12
    target = torch.tensor([[[11.5, 11.5]]], dtype=torch.float64)
    along = align_loss(features, target + torch.tensor([0.0, 1.5], dtype=torch.float64), target)
    across = align_loss(features, target + torch.tensor([1.5, 0.0], dtype=torch.float64), target)
    assert along.item() == pytest.approx(0.0, abs=1e-12)
    assert across.item() > 1.0


def test_align_loss_gradient_moves_the_prediction_towards_the_truth():
    features = torch.zeros(1, 1, 24, 24, dtype=torch.float64)
    features[..., 12:] = 1.0
    target = torch.tensor([[[11.5, 11.5]]], dtype=torch.float64)
    pred = (target + torch.tensor([1.3, 0.0], dtype=torch.float64)).requires_grad_()
    align_loss(features, pred, target).backward()
    assert pred.grad[0, 0, 0].item() > 0  # descending moves x back towards the boundary
    assert pred.grad[0, 0, 1].item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("sigma", [1.0, None])
def test_align_loss_gradients_match_finite_differences(sigma):
    """Eq. 2's gradients to the features and to the prediction (through the bilinear crop, Sect. 5)."""
    generator = torch.Generator().manual_seed(4)
    features = torch.rand(2, 3, 16, 16, dtype=torch.float64, generator=generator).requires_grad_()
    target = torch.rand(2, 4, 2, dtype=torch.float64, generator=generator) * 8 + 4
    pred = (target + torch.rand(2, 4, 2, dtype=torch.float64, generator=generator) * 2 - 1).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda f, p: align_loss(f, p, target, size=4, sigma=sigma), (features, pred), eps=1e-6, atol=1e-6
    )


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="pred and target"):
        l2_loss(torch.zeros(1, 3, 2), torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match="iod"):
        iod_l2_loss(PRED, TARGET, torch.ones(3, dtype=torch.float64))
