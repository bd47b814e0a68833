"""Landmark layouts and normalisers (ffld.data.specs)."""

import numpy as np
import pytest
import torch

from ffld.data.specs import AFLW19, COFW29, IBUG68, SPECS, WFLW98, LandmarkSpec, face_size, inter_ocular, inter_pupil


@pytest.mark.parametrize("spec", list(SPECS.values()), ids=list(SPECS))
def test_flip_permutation_is_an_involution(spec: LandmarkSpec) -> None:
    perm = np.array(spec.flip_permutation)
    assert len(perm) == spec.num_points
    assert np.array_equal(np.sort(perm), np.arange(spec.num_points))
    assert np.array_equal(perm[perm], np.arange(spec.num_points))
    # The normaliser points are mirror images of each other.
    i, j = spec.outer_eye_corners
    assert perm[i] == j
    left, right = spec.pupils
    assert sorted(perm[list(left)]) == sorted(right)


def test_known_pairs_and_fixed_points() -> None:
    # Hand-checked against the published mark-ups (0-based).
    assert IBUG68.num_points == 68 and IBUG68.flip_permutation[0] == 16 and IBUG68.flip_permutation[8] == 8
    assert IBUG68.flip_permutation[48] == 54 and IBUG68.flip_permutation[66] == 66 and IBUG68.flip_permutation[30] == 30
    assert COFW29.num_points == 29 and COFW29.flip_permutation[16] == 17 and COFW29.flip_permutation[28] == 28
    assert AFLW19.num_points == 19 and AFLW19.flip_permutation[0] == 5 and AFLW19.flip_permutation[18] == 18
    assert WFLW98.num_points == 98 and WFLW98.flip_permutation[0] == 32 and WFLW98.flip_permutation[16] == 16
    assert WFLW98.flip_permutation[96] == 97 and WFLW98.flip_permutation[54] == 54
    fixed = {name: [i for i, j in enumerate(s.flip_permutation) if i == j] for name, s in SPECS.items()}
    assert fixed["ibug68"] == [8, 27, 28, 29, 30, 33, 51, 57, 62, 66]
    assert fixed["cofw29"] == [20, 21, 24, 25, 26, 27, 28]
    assert fixed["aflw19"] == [13, 16, 18]
    assert fixed["wflw98"] == [16, 51, 52, 53, 54, 57, 79, 85, 90, 94]


def test_bad_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="involution"):
        LandmarkSpec("bad", 3, (1, 2, 0), (0, 1), ((0,), (1,)))
    with pytest.raises(ValueError, match="permutation"):
        LandmarkSpec("bad", 3, (0, 0, 1), (0, 1), ((0,), (1,)))
    with pytest.raises(ValueError, match="out of range"):
        LandmarkSpec("bad", 2, (1, 0), (0, 5), ((0,), (1,)))


def test_normalisers_numpy_and_torch() -> None:
    landmarks = np.zeros((2, 68, 2))
    landmarks[:, 36] = [10.0, 20.0]
    landmarks[:, 45] = [13.0, 24.0]  # 3-4-5 triangle
    landmarks[1, 45] = [10.0, 30.0]
    landmarks[:, 36:42] += [[0.0, 0.0]]
    landmarks[:, 42:48] = landmarks[:, 45:46]
    landmarks[:, 36:42] = landmarks[:, 36:37]
    np.testing.assert_allclose(inter_ocular(landmarks, IBUG68), [5.0, 10.0])
    np.testing.assert_allclose(inter_pupil(landmarks, IBUG68), [5.0, 10.0])
    # Pupils as eye-contour means: move one contour point, the centre moves by 1/6 of it.
    landmarks[0, 37] += [6.0, 0.0]
    assert inter_pupil(landmarks, IBUG68)[0] == pytest.approx(np.hypot(2.0, 4.0))
    tensor = torch.from_numpy(landmarks)
    torch.testing.assert_close(inter_ocular(tensor, IBUG68), torch.tensor([5.0, 10.0], dtype=torch.float64))
    boxes = np.array([[0.0, 0.0, 4.0, 9.0], [1.0, 1.0, 3.0, 3.0]])
    np.testing.assert_allclose(face_size(boxes), [6.0, 2.0])
    torch.testing.assert_close(face_size(torch.from_numpy(boxes)), torch.tensor([6.0, 2.0], dtype=torch.float64))
