r"""Evaluation metrics: NME and CED (Sect. 6.2, Fig. 9), and AUC and failure rate, which the paper does not report
(ffld adds them, with the PIPNet/STAR convention, to compare with later work).

The normalised mean error of image :math:`i` with :math:`N` landmarks is

.. math::

    \mathrm{NME}_i = \frac{1}{N} \sum_{j=1}^{N} \frac{\| p_{ij} - g_{ij} \|_2}{d_i},

with :math:`d_i` the inter-ocular (outer eye corners), inter-pupil (eye centres) or face-size
(:math:`\sqrt{w h}` of the face box) distance; the normalisers are :func:`inter_ocular`, :func:`inter_pupil`
and :func:`face_size` (from :mod:`ffld.data.specs`, where each dataset's indices live).
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import simpson

from ffld.data.specs import face_size, inter_ocular, inter_pupil


def _as_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 2:
        raise ValueError(f"pred and gt must both be (M, N, 2), got {pred.shape} and {gt.shape}")
    return pred, gt


def landmark_errors(pred: np.ndarray, gt: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """Normalised error of every landmark (the quantity of the landmark-wise CED, Fig. 11).

    Args:
        pred, gt: (M, N, 2) predicted and ground-truth landmarks.
        norm: (M,) positive normaliser of each image.

    Returns:
        (M, N) array :math:`\\|p_{ij} - g_{ij}\\| / d_i`.
    """
    pred, gt = _as_pair(pred, gt)
    norm = np.asarray(norm, dtype=np.float64)
    if norm.shape != pred.shape[:1]:
        raise ValueError(f"norm must be (M,) = {pred.shape[:1]}, got {norm.shape}")
    if not (np.isfinite(norm) & (norm > 0)).all():
        raise ValueError("norm must be finite and positive for every image")
    return np.linalg.norm(pred - gt, axis=-1) / norm[:, None]


def nme(pred: np.ndarray, gt: np.ndarray, norm: np.ndarray, visible: np.ndarray | None = None) -> np.ndarray:
    """Per-image normalised mean error.

    Args:
        pred, gt: (M, N, 2) predicted and ground-truth landmarks.
        norm: (M,) normaliser of each image (e.g. :func:`inter_ocular` of ``gt``).
        visible: optional (M, N) boolean mask; the mean then runs over the visible landmarks only.

    Returns:
        (M,) NME of each image (a fraction: multiply by 100 for the paper's %).
    """
    return mean_error(landmark_errors(pred, gt, norm), visible)


def check_visible(visible: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``visible`` as an (M, N) boolean mask of ``shape`` with at least one visible landmark per image."""
    visible = np.asarray(visible, dtype=bool)
    if visible.shape != tuple(shape) or not visible.any(axis=1).all():
        raise ValueError(f"visible must be {tuple(shape)} (M, N) with at least one visible landmark per image")
    return visible


def mean_error(errors: np.ndarray, visible: np.ndarray | None = None) -> np.ndarray:
    """Per-image mean of landmark errors: over all landmarks, or over the visible ones.

    Args:
        errors: (..., M, N) normalised landmark errors (e.g. one row per stage).
        visible: optional (M, N) boolean mask.

    Returns:
        (..., M) per-image NMEs.
    """
    if visible is None:
        return errors.mean(axis=-1)
    visible = check_visible(visible, errors.shape[-2:])
    return (errors * visible).sum(axis=-1) / visible.sum(axis=-1)


def ced(errors: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Cumulative error distribution: the fraction of ``errors`` at or below each threshold.

    Args:
        errors: any-shaped array of errors (per-image NMEs, or per-landmark errors for Fig. 11).
        thresholds: (T,) increasing thresholds.

    Returns:
        (T,) fractions in [0, 1].
    """
    errors = np.sort(np.asarray(errors, dtype=np.float64).ravel())
    return np.searchsorted(errors, np.asarray(thresholds, dtype=np.float64), side="right") / errors.size


def auc_fr(nmes: np.ndarray, threshold: float, step: float = 1e-4) -> tuple[float, float]:
    """Area under the CED curve up to ``threshold`` and failure rate, with the convention of PIPNet / STAR.

    ``xs = arange(0, threshold + step, step)``, ``ys`` the fraction of images with NME ≤ x, the failure rate is
    ``1 - ys[-1]`` and the AUC is Simpson's rule on ``(xs, ys)`` divided by ``threshold``
    (:func:`scipy.integrate.simpson`; PIPNet used the former ``simps``). As there, the floating-point ``arange``
    can end one step beyond the threshold: at 0.05 and 0.07 (502 and 702 points, up to 0.0501 and 0.0701), not at
    0.08 or 0.10.

    Args:
        nmes: (M,) per-image NMEs (fractions, not %).
        threshold: e.g. 0.08 or 0.10.
        step: integration step.

    Returns:
        ``(auc, failure_rate)``, both fractions.
    """
    nmes = np.asarray(nmes, dtype=np.float64).ravel()
    if nmes.size == 0 or threshold <= 0 or step <= 0:
        raise ValueError("need at least one NME and a positive threshold and step")
    xs = np.arange(0, threshold + step, step)
    ys = ced(nmes, xs)
    return float(simpson(ys, x=xs) / threshold), float(1.0 - ys[-1])


__all__ = [
    "auc_fr",
    "ced",
    "check_visible",
    "face_size",
    "inter_ocular",
    "inter_pupil",
    "landmark_errors",
    "mean_error",
    "nme",
]
