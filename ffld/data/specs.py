"""Landmark layouts of the benchmarks: point count, left/right flip permutation and normaliser indices.

All indices are 0-based. Sources of each layout:

* ``IBUG68`` (300W, 300VW, SynthFace): the iBUG 68-point mark-up (Sagonas et al., 2013). Flip pairs as in the
  HRNet facial-landmark code (``MATCHED_PARTS["300W"]``, 1-based there); outer eye corners 36 and 45 as in HRNet's
  and PIPNet's 300W NME; pupils as the means of the eye contours 36–41 and 42–47, as in the RCPR evaluation code
  (``shapeGt.m``, ``'pie'`` model, 1-based ``37:42`` and ``43:48``).
* ``COFW29`` (COFW): the LFPW 29-point layout of RCPR (Burgos-Artizzu et al., 2013). Flip pairs as in HRNet
  (``MATCHED_PARTS["COFW"]``); outer eye corners 8 and 9 as in HRNet's and PIPNet's COFW NME; pupils are the
  annotated points 16 and 17 (1-based 17 and 18 in RCPR's ``shapeGt.m`` ``distPup``).
* ``AFLW19`` (AFLW): the 19-point AFLW layout of Zhu et al. (CVPR 2016, CCL), ears excluded: brows 0–5, eyes
  6–11 (outer corner, centre, inner corner per eye), nose 12–14, mouth 15–17, chin 18. Flip pairs as in HRNet
  (``MATCHED_PARTS["AFLW"]``); the eye-centre points 7 and 10 are the pupils. AFLW results are normalised by the
  face size (:func:`face_size`), as in the paper (Sect. 6.2).
* ``WFLW98`` (WFLW): the 98-point layout of Wu et al. (CVPR 2018, LAB). Flip pairs as in HRNet
  (``MATCHED_PARTS["WFLW"]``, 0-based there); outer eye corners 60 and 72 as in HRNet's and PIPNet's WFLW NME;
  pupils are the annotated points 96 and 97.

"Left" and "right" follow the image (viewer's left first), as the datasets do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class LandmarkSpec:
    """A landmark layout.

    Attributes:
        name: layout name.
        num_points: N, the number of landmarks.
        flip_permutation: (N,) indices; after a horizontal flip of the image, landmark ``i`` of the flipped face is
            the mirrored position of landmark ``flip_permutation[i]`` of the original. An involution.
        outer_eye_corners: indices of the two outer eye corners (inter-ocular distance).
        pupils: two groups of indices; the mean of each group is an eye centre (inter-pupil distance).
    """

    name: str
    num_points: int
    flip_permutation: tuple[int, ...]
    outer_eye_corners: tuple[int, int]
    pupils: tuple[tuple[int, ...], tuple[int, ...]]

    def __post_init__(self) -> None:
        perm = np.asarray(self.flip_permutation)
        if sorted(self.flip_permutation) != list(range(self.num_points)):
            raise ValueError(f"{self.name}: flip_permutation is not a permutation of range({self.num_points})")
        if not np.array_equal(perm[perm], np.arange(self.num_points)):
            raise ValueError(f"{self.name}: flip_permutation is not an involution")
        used = list(self.outer_eye_corners) + [i for group in self.pupils for i in group]
        if any(not 0 <= i < self.num_points for i in used):
            raise ValueError(f"{self.name}: a normaliser index is out of range")


def _permutation(num_points: int, pairs: list[tuple[int, int]]) -> tuple[int, ...]:
    perm = list(range(num_points))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return tuple(perm)


IBUG68 = LandmarkSpec(
    name="ibug68",
    num_points=68,
    flip_permutation=_permutation(
        68,
        [(i, 16 - i) for i in range(8)]  # jaw
        + [(17 + i, 26 - i) for i in range(5)]  # brows
        + [(31, 35), (32, 34)]  # nostrils
        + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
        + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lips
        + [(60, 64), (61, 63), (65, 67)],  # inner lips
    ),
    outer_eye_corners=(36, 45),
    pupils=(tuple(range(36, 42)), tuple(range(42, 48))),
)

COFW29 = LandmarkSpec(
    name="cofw29",
    num_points=29,
    flip_permutation=_permutation(
        29,
        [(0, 1), (4, 6), (2, 3), (5, 7), (8, 9), (10, 11), (12, 14), (16, 17), (13, 15), (18, 19), (22, 23)],
    ),
    outer_eye_corners=(8, 9),
    pupils=((16,), (17,)),
)

AFLW19 = LandmarkSpec(
    name="aflw19",
    num_points=19,
    flip_permutation=_permutation(19, [(0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9), (12, 14), (15, 17)]),
    outer_eye_corners=(6, 11),
    pupils=((7,), (10,)),
)

WFLW98 = LandmarkSpec(
    name="wflw98",
    num_points=98,
    flip_permutation=_permutation(
        98,
        [(i, 32 - i) for i in range(16)]  # contour
        + [(33, 46), (34, 45), (35, 44), (36, 43), (37, 42), (38, 50), (39, 49), (40, 48), (41, 47)]  # brows
        + [(60, 72), (61, 71), (62, 70), (63, 69), (64, 68), (65, 75), (66, 74), (67, 73)]  # eyes
        + [(55, 59), (56, 58)]  # nostrils
        + [(76, 82), (77, 81), (78, 80), (87, 83), (86, 84), (88, 92), (89, 91), (95, 93)]  # mouth
        + [(96, 97)],  # pupils
    ),
    outer_eye_corners=(60, 72),
    pupils=((96,), (97,)),
)


def _distance(a: Array, b: Array) -> Array:
    return ((a - b) ** 2).sum(-1) ** 0.5


def inter_ocular(landmarks: Array, spec: LandmarkSpec) -> Array:
    """Distance between the outer eye corners.

    Args:
        landmarks: (..., N, 2) numpy array or torch tensor.

    Returns:
        (...) distances.
    """
    i, j = spec.outer_eye_corners
    return _distance(landmarks[..., i, :], landmarks[..., j, :])


def inter_pupil(landmarks: Array, spec: LandmarkSpec) -> Array:
    """Distance between the eye centres (each the mean of its ``spec.pupils`` group).

    Args:
        landmarks: (..., N, 2) numpy array or torch tensor.

    Returns:
        (...) distances.
    """
    left, right = (landmarks[..., list(group), :].mean(-2) for group in spec.pupils)
    return _distance(left, right)


def face_size(box: Array) -> Array:
    """Face size ``sqrt(w · h)`` of boxes, the AFLW normaliser (Sect. 6.2; SAN's ``get_face_size``).

    Args:
        box: (..., 4) boxes ``(x0, y0, x1, y1)``.

    Returns:
        (...) face sizes.
    """
    return ((box[..., 2] - box[..., 0]) * (box[..., 3] - box[..., 1])) ** 0.5


SPECS: dict[str, LandmarkSpec] = {spec.name: spec for spec in (IBUG68, COFW29, AFLW19, WFLW98)}

__all__ = ["AFLW19", "COFW29", "IBUG68", "SPECS", "WFLW98", "LandmarkSpec", "face_size", "inter_ocular", "inter_pupil"]
