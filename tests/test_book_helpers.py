"""ffld.book.setup and ffld.plotting: deterministic set-up and labelled figures."""

import os

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from ffld.book import LIBRARY_MAP, library_map_markdown, setup, toy_face
from ffld.crop import crop_patches
from ffld.gradients import first_stage_gradients
from ffld.landscapes import LOSSES, contour_patch, landscape, prediction_grid
from ffld.models import FFLD
from ffld.plotting import check_labelled, crop_figure, gradient_figure, landscape_figure


def test_setup_is_deterministic():
    first = setup(seed=3)
    a, b = first.random(3), torch.rand(3)
    second = setup(seed=3)
    assert np.array_equal(a, second.random(3))
    assert torch.equal(b, torch.rand(3))
    assert torch.get_num_threads() == 2
    assert torch.are_deterministic_algorithms_enabled()
    # On a GPU, ops without a deterministic kernel (grid_sample's backward) warn instead of stopping a chapter.
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    torch.use_deterministic_algorithms(False)


def test_check_labelled_rejects_unlabelled_panels():
    figure, axes = plt.subplots()
    axes.plot([0, 1])
    with pytest.raises(ValueError, match="no title"):
        check_labelled(figure)
    axes.set_title("t")
    with pytest.raises(ValueError, match="axis label"):
        check_labelled(figure)
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    assert check_labelled(figure) is figure
    plt.close(figure)


def test_figures_are_labelled():
    contour = contour_patch(size=30)
    offsets = prediction_grid(radius=4.0, step=1.0)
    figure = landscape_figure(contour, {name: landscape(contour, name, offsets) for name in LOSSES}, offsets)
    assert [axes.get_title()[:3] for axes in figure.axes[:5]] == ["(a)", "(b)", "(c)", "(d)", "(e)"]
    for axes in figure.axes[1:5]:  # the value at grid offset k is drawn in a cell centred on that offset
        left, right, bottom, top = axes.images[0].get_extent()
        centres = (np.arange(len(offsets)) + 0.5) / len(offsets)
        np.testing.assert_allclose(left + (right - left) * centres, offsets.numpy(), atol=1e-12)
        np.testing.assert_allclose(top + (bottom - top) * centres, offsets.numpy(), atol=1e-12)
    plt.close(figure)

    feature_map = torch.rand(1, 1, 10, 10, dtype=torch.float64)
    patch = crop_patches(feature_map, torch.tensor([[[4.2, 5.7]]], dtype=torch.float64), 4)[0, 0, 0]
    plt.close(crop_figure(feature_map[0, 0].numpy(), 4.2, 5.7, patch.numpy(), 4))

    torch.manual_seed(0)
    model = FFLD(2, stages=1).double().eval()
    gradients = first_stage_gradients(model, torch.rand(1, 3, 64, 64, dtype=torch.float64), torch.zeros(1, 2, 2))
    figure = gradient_figure(gradients, torch.zeros(2, 2), title="t")
    assert len([axes for axes in figure.axes if axes.get_label() != "<colorbar>"]) == 4
    plt.close(figure)


def test_toy_face_landmarks_lie_on_boundaries():
    image, landmarks, names = toy_face()
    assert image.shape == (3, 224, 224) and landmarks.shape == (9, 2) and len(names) == 9
    assert 0 <= image.min().item() and image.max().item() <= 1
    for x, y in landmarks.round().long().tolist():
        window = image[:, y - 2 : y + 3, x - 2 : x + 3]
        assert window.std(dim=(1, 2)).max().item() > 0.05  # an edge runs through each landmark


def test_library_map_names_existing_objects():
    table = library_map_markdown()
    assert table.count("\n") == len(LIBRARY_MAP) + 1
    assert "`ffld.crop.crop_patches_explicit` | Eq. 9, 11–14" in table
