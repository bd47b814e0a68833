"""ffld.anatomy: the shape trace of Fig. 4, the parameter counts of Table 7 / Sect. 6.5, Fig. 5's patches."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from ffld.anatomy import (
    SELECTION_MODES,
    closed_form_parts,
    parameter_figure,
    parameter_parts,
    parameters_in_closed_form,
    refined_from_baseline,
    selected_patches,
    selection_contrast,
    selection_figure,
    selection_parameters,
    shape_trace,
    support_figure,
    table7_parameters,
)
from ffld.featuremaps import boundary_response, synthface_boundary_faces
from ffld.models import FFLD, CropNet


def count(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def test_shape_trace_follows_fig4_and_recomposes_the_model():
    torch.manual_seed(0)
    model = FFLD(5)
    for stage in model.refinements:  # non-zero corrections, so that the recomposition check means something
        nn.init.normal_(stage.cropnet.fc.weight, std=0.1)
    steps = shape_trace(model, image_size=64)
    shapes = {(step.part, step.step): step.shape for step in steps}
    assert shapes["baseline", "level 3 (layer2, stride 8)"] == (1, 32, 8, 8)
    assert shapes["stage 1", "crop 8×8 of level 3 at S0"] == (1, 5, 32, 8, 8)
    assert shapes["stage 3", "CropNet: Max-pooling"] == (1, 128, 1, 1)
    assert [step.shape for step in steps if step.part == "stage 2"][1] == (1, 16 * 5, 8, 8)
    assert steps[-1].shape == (1, 5, 2) and "ΔS3" in steps[-1].step
    assert not steps[-1].line().endswith(" ")


@pytest.mark.parametrize("num_landmarks", [1, 5, 19, 68])
def test_closed_form_counts_equal_the_model(num_landmarks):
    model = FFLD(num_landmarks)
    parts = parameter_parts(model)
    assert sum(parts.values()) == count(model)
    backbone = parts["backbone (25% ResNet18)"]
    assert parameters_in_closed_form(num_landmarks, backbone) == count(model)
    assert sum(closed_form_parts(num_landmarks, backbone).values()) == count(model)
    layers = table7_parameters(num_landmarks)
    cropnet = CropNet(num_landmarks)
    assert layers == {
        "Batch Norm": count(cropnet.norm),
        "ResNet block": count(cropnet.block),
        "Max-pooling": 0,
        "FC": count(cropnet.fc),
    }
    assert sum(layers.values()) == 5386 * num_landmarks + 148_224


def test_selection_readings_count_as_convolutions():
    n, c = 7, 32
    shared = nn.Conv2d(c, 4, 1, bias=False)
    per_landmark = nn.Conv2d(n * c, n * 4, 1, groups=n, bias=False)
    full = nn.Conv2d(n * c, n * 4, 1, bias=False)
    assert [selection_parameters(c, n, mode) for mode in SELECTION_MODES] == [
        count(shared),
        count(per_landmark),
        count(full),
    ]
    with pytest.raises(ValueError, match="unknown selection mode"):
        selection_parameters(c, n, "other")


def test_paper_count_is_met_for_19_landmarks_only():
    backbone = count(FFLD(19).backbone)
    near = [n for n in range(1, 120) if round(parameters_in_closed_form(n, backbone) / 1e6, 2) == 1.46]
    assert near == [19]


def test_selected_patches_and_figures():
    torch.manual_seed(0)
    model = FFLD(68).eval()
    images = torch.rand(2, 3, 64, 64)
    patches, centres = selected_patches(model, images, stage=2)
    assert patches.shape == (2, 68, 4, 8, 8) and centres.shape == (2, 68, 2)
    with torch.no_grad():
        output = model(images)
        expected = model.refinements[1].crop(output.features[1], output.stages[1])
    torch.testing.assert_close(patches, expected)
    plt.close(selection_figure(patches[0, :3], ["a", "b", "c"], ["red", "red", "blue"], stage=2, stride=4))
    plt.close(support_figure(images[0], centres[0], [centres[0]] * 3, index=0, strides=[8, 4, 2]))
    backbone = count(model.backbone)
    counts = {n: closed_form_parts(n, backbone) for n in range(1, 30)}
    plt.close(parameter_figure(counts, datasets={"AFLW": 19}))


def test_refined_from_baseline_starts_at_the_baseline_with_zero_fcs():
    torch.manual_seed(1)
    baseline = FFLD(68, stages=0).eval()
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        s0 = baseline(images).stages[0]
        zero = refined_from_baseline(baseline)(images).stages
        random = refined_from_baseline(baseline, random_fc=True)(images).stages
    assert all(torch.equal(stage, s0) for stage in zero)  # S3 = S2 = S1 = S0 exactly
    assert torch.equal(random[0], s0) and all((stage - s0).abs().max() > 1e-3 for stage in random[1:])


def test_selection_contrast_measures_each_stage_and_group(tmp_path):
    synthface = {"data": {"synthface": {"image_size": 96}}}
    metadata = {"input_size": 64, "enlarge": 1.25, "box": "landmarks", "config": synthface}
    faces = synthface_boundary_faces(metadata, 2, cache_dir=str(tmp_path))
    torch.manual_seed(0)
    model = FFLD(68).eval()
    groups = {"jaw": range(0, 17), "eyes": range(36, 48)}
    contrast = selection_contrast(model, faces, groups, mixtures=5, rng=np.random.default_rng(0))
    assert sorted(contrast) == [(k, g) for k in (1, 2, 3) for g in ("eyes", "jaw")]
    # Stage 2, the eyes, by hand: select the level-2 maps, keep only the visible eye landmarks.
    with torch.no_grad():
        maps = model(faces.images).features[1]
    keep = faces.visible.clone()
    keep[:, [i for i in range(68) if i not in range(36, 48)]] = False
    stage = model.refinements[1]
    expected = boundary_response(stage.select(maps), stage.stride, faces.points, faces.tangents, keep).ratio
    learnt, random = contrast[2, "eyes"]
    torch.testing.assert_close(learnt, expected, rtol=0, atol=0)
    assert learnt.shape == (4,) and random.shape == (5,)
