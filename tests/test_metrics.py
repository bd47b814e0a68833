"""ffld.metrics against hand computations and the PIPNet / STAR formula."""

import numpy as np
import pytest
from scipy.integrate import simpson

from ffld.metrics import auc_fr, ced, landmark_errors, nme


def test_nme_by_hand():
    gt = np.array([[[0.0, 0.0], [10.0, 0.0]], [[0.0, 0.0], [0.0, 4.0]]])
    pred = gt + np.array([[[3.0, 4.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, -2.0]]])
    norm = np.array([10.0, 2.0])
    # image 0: (5/10 + 0) / 2 = 0.25; image 1: (1/2 + 2/2) / 2 = 0.75
    np.testing.assert_allclose(nme(pred, gt, norm), [0.25, 0.75], rtol=0, atol=1e-15)
    np.testing.assert_allclose(landmark_errors(pred, gt, norm), [[0.5, 0.0], [0.5, 1.0]], rtol=0, atol=1e-15)
    visible = np.array([[True, False], [True, True]])
    np.testing.assert_allclose(nme(pred, gt, norm, visible), [0.5, 0.75], rtol=0, atol=1e-15)
    message = r"visible must be \(2, 2\) \(M, N\) with at least one visible landmark per image"
    with pytest.raises(ValueError, match=message):  # an image with none would score 0 / 0
        nme(pred, gt, norm, np.array([[False, False], [True, True]]))
    with pytest.raises(ValueError, match=message):
        nme(pred, gt, norm, np.ones((2, 3), dtype=bool))


def test_nme_refuses_bad_normalisers_and_shapes():
    gt = np.zeros((1, 2, 2))
    with pytest.raises(ValueError, match="positive"):
        nme(gt, gt, np.array([0.0]))
    with pytest.raises(ValueError, match="pred and gt"):
        nme(np.zeros((1, 3, 2)), gt, np.array([1.0]))


def pipnet_auc_fr(nmes: np.ndarray, thres: float, step: float = 0.0001) -> tuple[float, float]:
    """The PIPNet / STAR evaluation, written from its description (count loop; Simpson's rule; / thres)."""
    num_data = len(nmes)
    xs = np.arange(0, thres + step, step)
    ys = np.array([np.count_nonzero(nmes <= x) for x in xs]) / float(num_data)
    return simpson(ys, x=xs) / thres, 1.0 - ys[-1]


@pytest.mark.parametrize("threshold", [0.05, 0.07, 0.08, 0.1])
def test_auc_fr_matches_the_pipnet_formula(threshold):
    nmes = np.random.default_rng(0).gamma(shape=3.0, scale=0.015, size=500)
    auc, failure = auc_fr(nmes, threshold)
    expected_auc, expected_failure = pipnet_auc_fr(nmes, threshold)
    assert auc == pytest.approx(expected_auc, abs=1e-12)
    assert failure == pytest.approx(expected_failure, abs=1e-12)


def test_auc_fr_by_hand():
    # Half the images at NME 0.02, half at 0.06: the CED is 0 to 0.02, 1/2 to 0.06, then 1, so the area up to 0.08
    # is 0.5 · 0.04 + 0.02 = 0.04 and the AUC 0.5, up to the discretisation: Simpson's rule on a grid of step 1e-4
    # misplaces each jump of the CED by at most one step, so the area errs by at most 1e-4 (AUC: 1e-4 / 0.08).
    auc, failure = auc_fr(np.array([0.02, 0.06]), 0.08)
    assert auc == pytest.approx(0.5, abs=1e-4 / 0.08)
    assert failure == 0.0
    auc, failure = auc_fr(np.array([0.05, 0.09, 0.2]), 0.08)
    assert failure == pytest.approx(2 / 3, abs=1e-15)
    assert auc == pytest.approx((1 / 3) * 0.03 / 0.08, abs=1e-4 / 0.08)
    assert auc_fr(np.zeros(4), 0.08) == (pytest.approx(1.0, abs=1e-12), 0.0)
    # The PIPNet grid overshoots 0.05 and 0.07 by one step, so an NME in (threshold, threshold + 1e-4] is no failure
    # there; 0.08 and 0.10 end exactly on the threshold.
    for threshold, overshoots in ((0.05, True), (0.07, True), (0.08, False), (0.10, False)):
        assert auc_fr(np.array([threshold + 5e-5]), threshold)[1] == (0.0 if overshoots else 1.0)


def test_ced_counts_errors_at_or_below_each_threshold():
    errors = np.array([0.1, 0.2, 0.2, 0.4])
    np.testing.assert_allclose(ced(errors, np.array([0.0, 0.1, 0.2, 0.3, 0.5])), [0.0, 0.25, 0.75, 0.75, 1.0])
