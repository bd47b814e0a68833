"""ffld.crop against an independent loop over Eq. 5, finite differences, and each other."""

import numpy as np
import pytest
import torch

from ffld.crop import crop_patches, crop_patches_explicit, sample_locations

CROPS = [crop_patches, crop_patches_explicit]


def eq5_reference(feature_map: np.ndarray, x: float, y: float, size: int) -> np.ndarray:
    """Eq. 5–7 written as the double sum over every pixel of one (C, H, W) map."""
    channels, height, width = feature_map.shape
    patch = np.zeros((channels, size, size))
    for q in range(size):
        for p in range(size):
            yq, xp = y - (size - 1) / 2 + q, x - (size - 1) / 2 + p
            for n in range(height):
                for m in range(width):
                    weight = max(0.0, 1 - abs(yq - n)) * max(0.0, 1 - abs(xp - m))
                    patch[:, q, p] += feature_map[:, n, m] * weight
    return patch


@pytest.fixture
def case():
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(2, 3, 7, 9, dtype=torch.float64, generator=generator)
    # Non-integer centres, some near or beyond the border so that samples fall outside the map.
    points = torch.tensor(
        [[[0.3, 0.7], [4.45, 3.2], [8.6, 6.9], [-1.3, 2.2]], [[3.1, 5.7], [9.9, -0.6], [2.25, 2.75], [6.4, 1.15]]],
        dtype=torch.float64,
    )
    return features, points


@pytest.mark.parametrize("crop", CROPS)
@pytest.mark.parametrize("size", [1, 4, 5, 8])
def test_forward_matches_eq5_loop(crop, size, case):
    features, points = case
    patches = crop(features, points, size)
    assert patches.shape == (2, 4, 3, size, size)
    for b in range(2):
        for n in range(4):
            x, y = points[b, n].tolist()
            expected = eq5_reference(features[b].numpy(), x, y, size)
            np.testing.assert_allclose(patches[b, n].numpy(), expected, rtol=0, atol=1e-12)


def test_samples_outside_are_zero():
    features = torch.ones(1, 2, 4, 4, dtype=torch.float64)
    patches = crop_patches(features, torch.tensor([[[20.0, 20.0], [-10.0, 1.5]]], dtype=torch.float64), 4)
    assert torch.equal(patches, torch.zeros_like(patches))
    # Half a pixel beyond the last column, a sample gets half the weight of the border pixel (Eq. 5).
    edge = crop_patches(features, torch.tensor([[[3.5, 1.5]]], dtype=torch.float64), 1)
    assert edge.flatten().tolist() == pytest.approx([0.5, 0.5], abs=1e-12)


def test_sample_locations_follow_eq6_eq7():
    locations = sample_locations(torch.tensor([[[10.0, 20.0]]]), 8)
    assert locations.shape == (1, 1, 8, 8, 2)
    assert locations[0, 0, 0, 0].tolist() == [6.5, 16.5]  # x - 3.5, y - 3.5
    assert locations[0, 0, 2, 5].tolist() == [11.5, 18.5]  # [q=2, p=5] -> (x - 3.5 + 5, y - 3.5 + 2)


def test_fast_and_explicit_agree_forward_and_backward(case):
    features, points = case
    grads = []
    for crop in CROPS:
        f, p = features.clone().requires_grad_(), points.clone().requires_grad_()
        out = crop(f, p, 8)
        weights = torch.linspace(-1, 1, out.numel(), dtype=torch.float64).reshape(out.shape)
        (out * weights).sum().backward()
        grads.append((out.detach(), f.grad, p.grad))
    for fast, explicit in zip(*grads, strict=True):
        torch.testing.assert_close(fast, explicit, rtol=0, atol=1e-12)  # float64; ~3e-15 seen


@pytest.mark.parametrize("crop", CROPS)
def test_gradcheck_at_non_integer_locations(crop, case):
    features, points = case
    features.requires_grad_()
    points.requires_grad_()
    assert torch.autograd.gradcheck(lambda f, p: crop(f, p, 4), (features, points), eps=1e-6, atol=1e-7)


def test_integer_sample_positions_take_the_right_derivative():
    """With size 8, a centre at k + 0.5 puts every sample on an integer (Eq. 6–7): the derivative jumps there."""
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(1, 2, 12, 12, dtype=torch.float64, generator=generator)
    centre = torch.tensor([[[5.5, 6.3]]], dtype=torch.float64)
    weights = torch.randn(1, 1, 2, 8, 8, dtype=torch.float64, generator=generator)

    def value(x_shift: float) -> float:
        return (crop_patches_explicit(features, centre + torch.tensor([x_shift, 0.0]), 8) * weights).sum().item()

    point = centre.clone().requires_grad_()
    (crop_patches_explicit(features, point, 8) * weights).sum().backward()
    step = 1e-7
    right = (value(step) - value(0.0)) / step
    left = (value(0.0) - value(-step)) / step
    assert abs(right - left) > 1e-2  # a genuine jump, not rounding
    assert point.grad[0, 0, 0].item() == pytest.approx(right, abs=1e-6)


def test_half_precision_features_keep_subpixel_locations():
    features = torch.randn(1, 4, 16, 16).to(torch.bfloat16)
    points = torch.tensor([[[7.3, 8.6]]])
    patches = crop_patches(features, points, 8)
    assert patches.dtype == torch.float32
    torch.testing.assert_close(patches, crop_patches(features.float(), points, 8), rtol=0, atol=0)


@pytest.mark.parametrize("crop", CROPS)
def test_half_precision_is_cropped_in_float32(crop):
    features = torch.randn(1, 4, 16, 16).to(torch.bfloat16)
    points = torch.tensor([[[7.3, 8.6]]], dtype=torch.bfloat16)  # both in bf16, as under autocast
    patches = crop(features, points, 8)
    assert patches.dtype == torch.float32
    reference = crop_patches(features.float(), points.float(), 8)
    torch.testing.assert_close(patches, reference, rtol=0, atol=0 if crop is crop_patches else 1e-6)


@pytest.mark.parametrize("crop", CROPS)
def test_bad_shapes_are_refused(crop):
    with pytest.raises(ValueError, match="features must be"):
        crop(torch.zeros(3, 4, 4), torch.zeros(1, 1, 2), 4)
    with pytest.raises(ValueError, match="points must be"):
        crop(torch.zeros(1, 3, 4, 4), torch.zeros(1, 1, 3), 4)
