"""ffld.misalignment: the gain of a stage on misplaced landmarks (Fig. 3), against stages of known behaviour."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from ffld.data.prepared import PreparedFaces
from ffld.featuremaps import BoundaryFaces, normals_of
from ffld.misalignment import gain_markdown, gain_table, misalignment_figure, misplaced_gain
from ffld.models import FFLD

FACES, N, SIZE = 3, 68, 64


def random_faces(seed: int = 0) -> BoundaryFaces:
    """Random images with random exact landmarks and random unit boundary directions."""
    generator = torch.Generator().manual_seed(seed)
    points = 12 + 40 * torch.rand(FACES, N, 2, generator=generator)
    angles = torch.pi * torch.rand(FACES, N, generator=generator)
    tangents = torch.stack([angles.cos(), angles.sin()], dim=-1)
    images = torch.randint(0, 256, (FACES, 3, SIZE, SIZE), dtype=torch.uint8, generator=generator)
    matrices = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64).expand(FACES, 2, 3)
    boxes = torch.tensor([[0.0, 0, SIZE, SIZE]]).expand(FACES, 4)
    prepared = PreparedFaces(images, points, matrices, points, boxes, [f"face{i}" for i in range(FACES)])
    visible = torch.ones(FACES, N, dtype=torch.bool)
    visible[0, :5] = False
    return BoundaryFaces(prepared, points, tangents, visible)


class PullsAcross(nn.Module):
    """ΔS_i = -c ((S_i - g_i)·n_i) n_i: takes back the fraction c of each landmark's own move across its boundary."""

    def __init__(self, faces: BoundaryFaces, c: float) -> None:
        super().__init__()
        self.truth, self.normals, self.c = faces.points, normals_of(faces.tangents), c

    def forward(self, features: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        return -self.c * ((points - self.truth) * self.normals).sum(-1, keepdim=True) * self.normals


class PullsShape(PullsAcross):
    """ΔS_i = -c mean_j((S_j - g_j)·n_j) n_i: reads only the misalignment of the whole shape."""

    def forward(self, features: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        across = ((points - self.truth) * self.normals).sum(-1).mean(dim=1)
        return -self.c * across[:, None, None] * self.normals


def model_with_last_stage(stage: nn.Module) -> FFLD:
    torch.manual_seed(0)
    model = FFLD(N, stages=3).eval()
    model.refinements[2] = stage
    return model


@pytest.mark.parametrize("amount", [2.0, -3.5])
def test_a_stage_that_pulls_back_across_has_that_gain_across_and_none_along(amount):
    faces = random_faces()
    model = model_with_last_stage(PullsAcross(faces, 0.4))
    for landmark in (None, 7):
        across = misplaced_gain(model, faces, 3, "across", amount, landmark)
        along = misplaced_gain(model, faces, 3, "along", amount, landmark)
        assert across.shape == ((FACES, N) if landmark is None else (FACES,))
        torch.testing.assert_close(across, torch.full_like(across, 0.4), atol=1e-5, rtol=0)
        torch.testing.assert_close(along, torch.zeros_like(along), atol=1e-5, rtol=0)


def test_moving_alone_and_together_differ_for_a_stage_that_reads_the_shape():
    faces = random_faces(1)
    model = model_with_last_stage(PullsShape(faces, 0.5))
    together = misplaced_gain(model, faces, 3, "across", 2.0)
    alone = misplaced_gain(model, faces, 3, "across", 2.0, landmark=3)
    torch.testing.assert_close(together, torch.full((FACES, N), 0.5), atol=1e-5, rtol=0)
    torch.testing.assert_close(alone, torch.full((FACES,), 0.5 / N), atol=1e-6, rtol=0)  # 1/N of the mean moves


def test_gain_table_medians_and_the_untrained_stages():
    faces = random_faces(2)
    model = model_with_last_stage(PullsShape(faces, 0.5))
    rows = gain_table(model, faces, 2.0, {"jaw": range(0, 17), "eyes": range(36, 48)})
    assert [(row["stage"], row["group"]) for row in rows] == [(k, g) for k in (1, 2, 3) for g in ("jaw", "eyes")]
    for row in rows:
        if row["stage"] == 3:
            expected = {"across together": 0.5, "across alone": 0.5 / N, "along together": 0.0, "along alone": 0.0}
        else:  # the FC layers of a new model start at zero (Sect. 6.6): no correction, whatever the input
            expected = dict.fromkeys(("across together", "across alone", "along together", "along alone"), 0.0)
        for key, value in expected.items():
            assert row[key] == pytest.approx(value, abs=1e-5), (row["stage"], key)
    table = gain_markdown(rows).splitlines()
    assert table[0] == "| stage | landmarks | across together | across alone | along together | along alone |"
    assert table[-1] == "| 3 | eyes | 0.50 | 0.01 | 0.00 | 0.00 |"


def test_bad_arguments_are_refused():
    faces = random_faces()
    model = model_with_last_stage(PullsAcross(faces, 0.4))
    with pytest.raises(ValueError, match="amount must not be 0"):
        misplaced_gain(model, faces, 3, "across", 0.0)
    with pytest.raises(ValueError, match="unknown direction 'sideways'"):
        misplaced_gain(model, faces, 3, "sideways", 1.0)


def test_misalignment_figure_crops_at_the_truth_and_at_the_moved_point():
    faces = random_faces()
    torch.manual_seed(0)
    model = FFLD(N, stages=3).eval()
    figure = misalignment_figure(model, faces, face=1, landmark=8, stage=3, offset=(2.0, 0.0))
    images = [axes.get_images()[0].get_array() for axes in figure.axes if axes.get_title().endswith("ch 1")]
    assert [axes.get_title() for axes in figure.axes[:1]] == ["at the truth, ch 1"]
    assert len(figure.axes) == 2 * 4 + 1 and not np.allclose(images[0], images[1])
    plt.close(figure)
    still = misalignment_figure(model, faces, face=1, landmark=8, stage=3, offset=(0.0, 0.0))
    images = [axes.get_images()[0].get_array() for axes in still.axes if axes.get_title().endswith("ch 1")]
    np.testing.assert_array_equal(images[0], images[1])
    plt.close(still)
