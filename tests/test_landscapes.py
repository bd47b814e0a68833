"""ffld.landscapes: the synthetic contour of Fig. 6 and the landscapes, anisotropy and saturation measured on it."""

import math

import pytest
import torch

from ffld.landscapes import (
    LOSSES,
    anisotropy,
    contour_patch,
    far_growth,
    half_height_distance,
    landscape,
    loss_function,
    normalise,
    prediction_grid,
    signed_distance,
)


def test_contour_geometry():
    contour = contour_patch(size=33, orientation=0.0, curvature=0.0)
    assert contour.features.shape == (1, 2, 33, 33)
    assert contour.truth.tolist() == [16.0, 16.0]
    region, edge = contour.features[0]
    # Straight vertical boundary through x = 16, region increasing along +x, edge peaking on the line.
    assert region[16, 16].item() == pytest.approx(0.5)
    assert region[16, 30].item() > 0.99 and region[16, 2].item() < 0.01
    assert edge[5, 16].item() == pytest.approx(1.0)
    assert torch.dot(contour.normal, contour.tangent).item() == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("curvature", [0.1, -0.1])
def test_signed_distance_on_a_circle(curvature):
    truth = torch.tensor([10.0, 10.0], dtype=torch.float64)
    normal = torch.tensor([0.0, 1.0], dtype=torch.float64)
    assert signed_distance(truth, truth, normal, curvature).item() == pytest.approx(0.0, abs=1e-12)
    # One pixel along the normal is one pixel inside (positive), whatever the sign of the curvature.
    assert signed_distance(truth + normal, truth, normal, curvature).item() == pytest.approx(1.0)
    # Along the tangent the boundary bends away: towards +n for curvature > 0, so the point is outside.
    along = signed_distance(truth + torch.tensor([3.0, 0.0], dtype=torch.float64), truth, normal, curvature)
    assert math.copysign(1, along.item()) == -math.copysign(1, curvature)


def test_landscapes_have_their_minimum_at_the_truth():
    contour = contour_patch(size=40)
    offsets = prediction_grid(radius=6.0, step=1.0)
    centre = len(offsets) // 2
    for loss in LOSSES:
        values = landscape(contour, loss, offsets)
        assert values.shape == (13, 13)
        assert values[centre, centre].item() == pytest.approx(0.0, abs=1e-12)
        assert values.min().item() >= -1e-12
        normalised = normalise(values)
        assert normalised.min().item() == 0.0 and normalised.max().item() == 1.0


def test_landscape_matches_pointwise_losses():
    contour = contour_patch(size=40)
    offsets = torch.tensor([-1.5, 0.25, 2.0], dtype=torch.float64)
    values = landscape(contour, "align", offsets, align_sigma=None)
    function = loss_function(contour, "align", align_sigma=None)
    expected = function(contour.truth + torch.tensor([2.0, -1.5], dtype=torch.float64))
    assert values[0, 2].item() == pytest.approx(expected.item(), rel=1e-12)


def test_align_loss_is_anisotropic_and_coordinate_losses_are_not():
    contour = contour_patch()
    for loss in ("l2", "l1", "heatmap_l2"):
        assert anisotropy(contour, loss) == pytest.approx(1.0, rel=1e-9)
    assert anisotropy(contour, "align") > 10
    assert anisotropy(contour, "align", align_sigma=None) > 5


def test_saturation_far_from_the_truth():
    contour = contour_patch()
    assert far_growth(contour, "l2") == pytest.approx(1 - (8 / 12) ** 2)
    assert far_growth(contour, "l1") == pytest.approx(1 - 8 / 12)
    assert abs(far_growth(contour, "heatmap_l2")) < 0.01
    assert abs(far_growth(contour, "align")) < 0.01
    # A wide heat-map Gaussian has not saturated yet at 8 pixels.
    assert far_growth(contour, "heatmap_l2", heatmap_sigma=3.0) > 0.1


def test_half_height_distance_of_l2_and_l1_and_the_align_filter():
    contour = contour_patch()
    distances = torch.linspace(0, 12, 49)
    # L2 = d², half of 12² at 12/√2; linear interpolation over 0.25-px steps is off by < 1e-3 px there.
    assert half_height_distance(contour, "l2", distances) == pytest.approx(12 / math.sqrt(2), abs=1e-3)
    assert half_height_distance(contour, "l1", distances) == pytest.approx(6.0, abs=1e-12)  # L1 = d, on a sample
    # The Gaussian filter widens Align Loss's valley across the boundary (Sect. 4.3).
    wide = half_height_distance(contour, "align", distances, align_sigma=1.0)
    assert wide > half_height_distance(contour, "align", distances, align_sigma=None)
    with pytest.raises(ValueError, match="half height"):
        half_height_distance(contour, "l2", torch.linspace(10, 12, 3))


def test_bad_arguments():
    contour = contour_patch(size=20)
    with pytest.raises(ValueError, match="unknown loss"):
        loss_function(contour, "l3")
    with pytest.raises(ValueError, match="direction"):
        far_growth(contour, "l2", direction="diagonal")
    with pytest.raises(ValueError, match="positive widths"):
        contour_patch(softness=0)
