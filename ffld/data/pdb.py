"""Pose-based data balancing (PDB), Feng et al., "Wing loss for robust facial landmark localisation with
convolutional neural networks", CVPR 2018, Sect. 5; the paper uses it on AFLW (Sect. 6.6).

As Feng et al. describe it: align all training shapes to the mean shape by Procrustes analysis, apply PCA to the
aligned shapes, project each shape onto the eigenvector that controls pose (the first principal component on
AFLW, where yaw dominates the shape variation), build a histogram of the projections with K bins, and duplicate
the samples of the less populated bins. Here every non-empty bin is filled up to the size of the fullest bin by
cycling through its samples, so each sample appears ⌊m/n⌋ or ⌈m/n⌉ times (m: largest bin, n: its bin);
Feng et al. rely on random augmentation to make the duplicates differ.
"""

from __future__ import annotations

import numpy as np


def procrustes_align(shapes: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Generalised Procrustes analysis: remove translation, scale and rotation (no reflection).

    Args:
        shapes: (M, N, 2) shapes.
        iterations: rounds of aligning to the mean and re-estimating it.

    Returns:
        (M, N, 2) float64 aligned shapes, centred, of unit Frobenius norm.
    """
    shapes = np.asarray(shapes, dtype=np.float64)
    centred = shapes - shapes.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=(1, 2), keepdims=True)
    if (norms == 0).any():
        raise ValueError("a shape has all its points at one place")
    aligned = centred / norms
    mean = aligned[0]
    for _ in range(iterations):
        # Best rotation of each shape onto the mean (orthogonal Procrustes, determinant kept at +1).
        u, _, vt = np.linalg.svd(aligned.transpose(0, 2, 1) @ mean)
        d = np.sign(np.linalg.det(u @ vt))
        u[:, :, -1] *= d[:, None]
        aligned = aligned @ (u @ vt)
        mean = aligned.mean(axis=0)
        mean /= np.linalg.norm(mean)
    return aligned


def pose_coefficients(shapes: np.ndarray, component: int = 0) -> np.ndarray:
    """Projection of each Procrustes-aligned shape on one principal component of the aligned shapes.

    Args:
        shapes: (M, N, 2) shapes.
        component: index of the principal component (0: the first).

    Returns:
        (M,) coefficients; their sign convention is arbitrary.
    """
    aligned = procrustes_align(shapes).reshape(len(shapes), -1)
    centred = aligned - aligned.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[component]


def balance_indices(coefficients: np.ndarray, num_bins: int = 9) -> np.ndarray:
    """Indices that balance samples over a K-bin histogram of their coefficients.

    Args:
        coefficients: (M,) pose coefficients.
        num_bins: K, equal-width bins spanning the coefficients' range.

    Returns:
        1-D int64 array of sample indices (with repeats): every non-empty bin contributes as many as the fullest.
    """
    coefficients = np.asarray(coefficients, dtype=np.float64)
    edges = np.linspace(coefficients.min(), coefficients.max(), num_bins + 1)
    bins = np.clip(np.searchsorted(edges, coefficients, side="right") - 1, 0, num_bins - 1)
    members = [np.flatnonzero(bins == b) for b in range(num_bins)]
    target = max(len(m) for m in members)
    return np.concatenate([np.resize(m, target) for m in members if len(m)]).astype(np.int64)


def pose_balanced_indices(shapes: np.ndarray, num_bins: int = 9, component: int = 0) -> np.ndarray:
    """PDB in one call: :func:`pose_coefficients` of the (M, N, 2) ``shapes``, then :func:`balance_indices`.

    Use the result with ``torch.utils.data.Subset(dataset, indices)`` (shapes in the dataset's order).
    """
    return balance_indices(pose_coefficients(shapes, component), num_bins)


__all__ = ["balance_indices", "pose_balanced_indices", "pose_coefficients", "procrustes_align"]
