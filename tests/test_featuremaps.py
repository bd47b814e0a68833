"""ffld.featuremaps: the five backbone levels and the across/along boundary measure of chapter 1 (Fig. 2)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from ffld.featuremaps import (
    LEVELS,
    BoundaryResponse,
    active_channels,
    boundary_response,
    boundary_table,
    channel_figure,
    feature_grid_figure,
    feature_levels,
    map_extent,
    normals_of,
    response_figure,
    sample_at,
    synthface_boundary_faces,
)
from ffld.models import FFLD


def test_feature_levels_have_the_documented_strides_and_match_the_model():
    torch.manual_seed(0)
    model = FFLD(5, stages=0).eval()
    images = torch.rand(2, 3, 64, 64)
    levels = feature_levels(model, images)
    assert [tuple(maps.shape) for maps in levels] == [
        (2, 16, 32, 32),
        (2, 16, 16, 16),
        (2, 32, 8, 8),
        (2, 64, 4, 4),
        (2, 128, 2, 2),
    ]
    assert [64 // maps.shape[-1] for maps in levels] == [stride for _, stride in LEVELS.values()]
    with torch.no_grad():
        features = model(images).features
    for mine, theirs in zip(levels[:3], features, strict=True):
        torch.testing.assert_close(mine, theirs)


def test_sample_at_reads_pixel_centres_in_image_coordinates():
    features = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    points = torch.tensor([[[4.0, 6.0]], [[0.0, 2.0]]])  # stride 2: map pixels (x=2, y=3) and (x=0, y=1)
    values = sample_at(features, points, stride=2)
    assert values.shape == (2, 1, 3)
    torch.testing.assert_close(values[0, 0], features[0, :, 3, 2])
    torch.testing.assert_close(values[1, 0], features[1, :, 1, 0])


@pytest.mark.parametrize("side", [32, 8, 2])
def test_drawn_maps_centre_each_map_pixel_where_sample_at_reads_it(side):
    """The figures draw a map over image coordinates: the centre of drawn pixel (n, m) must be the image point where
    sample_at reads exactly map pixel (n, m) (drawn pixel-edge to image-edge, a stride-8 map was 3.5 px off)."""
    size = 64
    values = torch.rand(1, 1, side, side, generator=torch.Generator().manual_seed(side))
    left, right, bottom, top = map_extent(size, side, side)
    centres = torch.arange(side, dtype=torch.float64) + 0.5
    xs, ys = left + centres * (right - left) / side, top + centres * (bottom - top) / side
    rows, columns = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([columns, rows], -1).reshape(1, -1, 2).float()
    read = sample_at(values, points, stride=size // side)
    torch.testing.assert_close(read[0, :, 0], values.flatten(), rtol=0, atol=1e-6)


def test_boundary_response_separates_boundary_ramp_and_silent_channels():
    # A vertical boundary at x = 10: channel 0 steps across it, channel 1 ramps along it, channel 2 is zero.
    y, x = torch.meshgrid(torch.arange(20.0), torch.arange(20.0), indexing="ij")
    features = torch.stack([torch.tanh(x - 10), y / 20, torch.zeros_like(x)])[None]
    points = torch.tensor([[[10.0, 5.0], [10.0, 9.5], [10.0, 14.0]]])
    tangents = torch.tensor([[[0.0, 1.0]] * 3])
    response = boundary_response(features, 1, points, tangents, step=1.0, level=1)
    assert isinstance(response, BoundaryResponse) and response.shape == (3, 20, 20)
    torch.testing.assert_close(response.across[0], 2 * torch.tanh(torch.tensor(1.0)))
    assert response.along[0] == 0 and response.across[1] == 0
    torch.testing.assert_close(response.along[1], torch.tensor(0.1))
    assert response.ratio[0] > 1e6 and response.ratio[1] == 0 and response.ratio[2] == 1
    assert response.boundary_fraction(1.5) == pytest.approx(1 / 3)
    assert response.contrast[2] == 0
    torch.testing.assert_close(response.contrast[0], response.across[0] / 2 / features[0, 0].std())
    row = response.row()
    assert row["maps"] == "20×20×3" and row["level"] == 1
    # The visible mask drops landmarks; the rotated frame swaps the roles of the two channels.
    masked = boundary_response(features, 1, points, tangents, torch.tensor([[True, False, False]]))
    torch.testing.assert_close(masked.across, response.across)
    swapped = boundary_response(features, 1, points, normals_of(tangents))
    torch.testing.assert_close(swapped.across[:2], response.along[:2])


def test_active_channels_orders_by_variance():
    maps = torch.zeros(3, 4, 4)
    maps[1, 0, 0] = 1.0
    maps[2, :2] = 5.0
    assert active_channels(maps, 2) == [2, 1]


def test_synthface_faces_and_figures(tmp_path):
    metadata = {
        "input_size": 64,
        "enlarge": 1.25,
        "box": "landmarks",
        "config": {"data": {"synthface": {"image_size": 96}}},
    }
    faces = synthface_boundary_faces(metadata, 2, cache_dir=str(tmp_path))
    assert faces.images.shape == (2, 3, 64, 64) and faces.points.shape == (2, 68, 2)
    torch.testing.assert_close(faces.tangents.norm(dim=-1), torch.ones(2, 68), atol=1e-3, rtol=0)
    torch.testing.assert_close(faces.points, faces.faces.landmarks, atol=1e-3, rtol=0)  # no annotation noise
    assert faces.visible.all()  # the common split has no occluders
    assert len(faces.select([1]).points) == 1
    control = faces.with_random_directions(np.random.default_rng(0))
    angles = torch.atan2(control.tangents[..., 1], control.tangents[..., 0])
    assert ((angles >= 0) & (angles < torch.pi)).all()  # unit vectors drawn from [0, π)
    torch.testing.assert_close(control.tangents.norm(dim=-1), torch.ones(2, 68), atol=1e-6, rtol=0)
    assert control.points is faces.points and control.visible is faces.visible
    torch.testing.assert_close(control.tangents, faces.with_random_directions(np.random.default_rng(0)).tangents)
    assert not torch.allclose(control.tangents, faces.tangents, atol=0.1)

    torch.manual_seed(0)
    model = FFLD(68, stages=0).eval()
    responses = boundary_table(model, faces)
    assert [response.level for response in responses] == [1, 2, 3, 4, 5]
    levels = feature_levels(model, faces.images)
    plt.close(feature_grid_figure(faces.images[0], [m[0] for m in levels], {k: [0, 1] for k in range(1, 6)}))
    plt.close(channel_figure(faces.images[0], levels[0][0], 1, 3, faces.points[0], 1.7))
    plt.close(response_figure(responses))
