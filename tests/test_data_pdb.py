"""Pose-based data balancing on synthetic faces whose yaw is known."""

import numpy as np
import pytest

from ffld.data.pdb import balance_indices, pose_balanced_indices, pose_coefficients, procrustes_align


def faces_with_yaw(yaws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Project a fixed 3-D face (19 points) at each yaw, then apply a random 2-D similarity and a little noise."""
    template = np.random.default_rng(0).normal(size=(19, 3)) * [1.0, 1.2, 0.6]
    shapes = []
    for yaw in yaws:
        c, s = np.cos(yaw), np.sin(yaw)
        projected = template @ np.array([[c, 0.0], [0.0, 1.0], [s, 0.0]])  # x' = x cos + z sin, y' = y
        angle, scale, shift = rng.uniform(-0.3, 0.3), rng.uniform(20, 60), rng.uniform(0, 200, 2)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        shapes.append(scale * projected @ rot.T + shift + rng.normal(scale=0.05, size=(19, 2)))
    return np.array(shapes)


def test_procrustes_removes_similarity_but_not_reflection() -> None:
    rng = np.random.default_rng(1)
    shape = rng.normal(size=(19, 2))
    rot = np.array([[0.6, -0.8], [0.8, 0.6]])
    moved = 3.0 * shape @ rot.T + [5.0, -2.0]
    mirrored = shape * [-1.0, 1.0]
    aligned = procrustes_align(np.stack([shape, moved, mirrored, rng.normal(size=(19, 2))]))
    np.testing.assert_allclose(aligned[0], aligned[1], atol=1e-9)
    assert np.abs(aligned[0] - aligned[2]).max() > 0.05
    np.testing.assert_allclose(np.linalg.norm(aligned, axis=(1, 2)), 1.0)
    with pytest.raises(ValueError, match="one place"):
        procrustes_align(np.zeros((2, 19, 2)))


def test_first_component_follows_yaw_and_balancing_equalises_bins() -> None:
    rng = np.random.default_rng(2)
    yaws = np.clip(rng.normal(scale=0.35, size=600), -1.2, 1.2)  # mostly frontal, few profiles (as AFLW)
    shapes = faces_with_yaw(yaws, rng)
    coefficients = pose_coefficients(shapes)
    assert abs(np.corrcoef(coefficients, yaws)[0, 1]) > 0.95

    indices = pose_balanced_indices(shapes, num_bins=9)
    edges = np.linspace(coefficients.min(), coefficients.max(), 10)
    before = np.histogram(coefficients, edges)[0]
    after = np.histogram(coefficients[indices], edges)[0]
    assert before.max() > 5 * before[before > 0].min()  # imbalanced to start with
    assert set(after[after > 0]) == {before.max()}  # every non-empty bin as full as the fullest
    assert set(indices.tolist()) == set(range(len(shapes)))  # nothing dropped
    counts = np.bincount(indices)
    for b in range(9):
        members = np.flatnonzero(np.clip(np.searchsorted(edges, coefficients, "right") - 1, 0, 8) == b)
        if len(members):
            assert counts[members].max() - counts[members].min() <= 1  # duplicated evenly


def test_balance_indices_small_example() -> None:
    indices = balance_indices(np.array([0.0, 0.1, 0.2, 0.3, 1.0]), num_bins=2)
    assert sorted(indices.tolist()) == [0, 1, 2, 3, 4, 4, 4, 4]
