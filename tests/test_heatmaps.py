"""ffld.heatmaps: Gaussian heat maps, arg-max decoding, heat-map L2 loss and HRM quantisation (Sect. 1)."""

import math

import pytest
import torch

from ffld.heatmaps import gaussian_heatmap, heatmap_argmax, heatmap_l2_loss, quantisation_error


def test_gaussian_heatmap_peak_and_values():
    heatmap = gaussian_heatmap(torch.tensor([[3.0, 2.0]], dtype=torch.float64), 5, 7, sigma=1.0)
    assert heatmap.shape == (1, 5, 7)
    assert heatmap[0, 2, 3].item() == 1.0
    assert heatmap[0, 2, 4].item() == pytest.approx(math.exp(-0.5))
    assert heatmap[0, 3, 4].item() == pytest.approx(math.exp(-1.0))


def test_argmax_decodes_integer_positions():
    points = torch.tensor([[3.0, 2.0], [0.0, 4.0], [6.0, 0.0]], dtype=torch.float64)
    assert torch.equal(heatmap_argmax(gaussian_heatmap(points, 5, 7)), points)
    # A sub-pixel centre is rounded to the nearest pixel: the HRM quantisation error.
    assert heatmap_argmax(gaussian_heatmap(torch.tensor([[2.4, 1.6]]), 5, 7)).tolist() == [[2.0, 2.0]]


def test_heatmap_l2_loss_zero_at_truth_and_saturates():
    target = torch.tensor([[[20.0, 20.0]]], dtype=torch.float64)
    assert heatmap_l2_loss(target, target, 41, 41).item() == 0.0
    far = [heatmap_l2_loss(target + torch.tensor([d, 0.0]), target, 41, 41, sigma=1.0).item() for d in (8.0, 12.0)]
    # Saturation at 2 * sum h^2, close to 2 * pi * sigma^2 for sigma = 1 on a unit grid.
    assert far[0] == pytest.approx(far[1], rel=1e-6)
    assert far[1] == pytest.approx(2 * math.pi, rel=1e-3)


def test_quantisation_error_of_an_ideal_hrm():
    generator = torch.Generator().manual_seed(0)
    points = torch.rand(4000, 2, generator=generator, dtype=torch.float64) * 200 + 10
    errors = quantisation_error(points, stride=4)
    # Per axis the error is uniform on [-2, 2]: never more than 2·√2, mean distance 0.3826 · 4.
    assert errors.max().item() <= 2 * math.sqrt(2) + 1e-9
    assert errors.mean().item() == pytest.approx(0.3826 * 4, rel=0.03)
    assert quantisation_error(torch.tensor([[8.0, 12.0]]), stride=4).item() == 0.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="sigma"):
        gaussian_heatmap(torch.zeros(1, 2), 3, 3, sigma=0)
    with pytest.raises(ValueError, match="pred and target"):
        heatmap_l2_loss(torch.zeros(1, 2), torch.zeros(1, 2), 3, 3)


def test_quantisation_error_matches_a_full_heat_map():
    points = torch.tensor([[13.3, 41.9], [2.0, 7.5], [30.6, 0.4]], dtype=torch.float64)
    full = heatmap_argmax(gaussian_heatmap(points / 4, 16, 16)) * 4
    assert torch.allclose(quantisation_error(points, 4), (full - points).norm(dim=-1))
