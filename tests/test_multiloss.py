"""Chapter 5's helpers (ffld.multiloss): training curves and the pull of each loss."""

import matplotlib.pyplot as plt
import numpy as np
import torch

from ffld.losses import l1_loss, l2_loss
from ffld.multiloss import gradient_profile, training_figure


def test_training_figure_plots_only_the_evaluated_epochs():
    # runtime.eval_every = 2: the test NMEs exist at epochs 2 and 4 only.
    history = [{"epoch": e, "train_S0_iod_l2": 1.0 / e, "train_S1_l2": 2.0 / e} for e in range(1, 5)]
    for row in history[1::2]:
        row.update({"common_nme_S0": 10 / row["epoch"], "common_nme_S1": 5 / row["epoch"]})
    figure = training_figure({"run": history})
    left, right = figure.axes
    assert [line.get_label() for line in right.get_lines()] == ["run, S0", "run, S1"]
    s0, s1 = right.get_lines()
    np.testing.assert_array_equal(s0.get_xdata(), [2, 4])
    np.testing.assert_allclose(s1.get_ydata(), [2.5, 1.25], rtol=1e-12)  # 5 / epoch, in % already
    np.testing.assert_allclose(left.get_lines()[1].get_ydata(), [1, 1 / 2, 1 / 3, 1 / 4], rtol=1e-12)
    plt.close(figure)


def test_gradient_profile_matches_the_losses_derivatives():
    # Moving every landmark by d along its direction changes the loss at the rate sum_i pull_i, so the mean pull is
    # that derivative / N: here by central differences (float32 losses: 1e-3 relative tolerance).
    points = torch.tensor([[[10.0, 20.0], [30.0, 40.0]]])
    directions = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    distances = [0.5, 2.0]
    profiles = gradient_profile({"l2": l2_loss, "l1": l1_loss}, points, directions, distances)
    for name, loss in (("l2", l2_loss), ("l1", l1_loss)):
        expected = []
        for d in distances:
            step = 1e-3
            plus = loss(points + (d + step) * directions, points)
            minus = loss(points + (d - step) * directions, points)
            expected.append(float((plus - minus) / (2 * step)) / points.shape[1])  # per landmark
        np.testing.assert_allclose(profiles[name], expected, rtol=1e-3)
