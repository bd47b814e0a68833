"""Face crop from a box: a square around the box, enlarged, resampled to the model's input size, and back.

Convention: 0-based pixel coordinates, the centre of the top-left pixel at (0, 0), the same as ``cv2.warpAffine``.
A 2×3 matrix ``A`` maps a source point ``p`` to ``A[:, :2] @ p + A[:, 2]``. The square of side ``s`` centred on
``c`` covers the crop exactly: its left edge ``c_x - s/2`` goes to the crop's left pixel edge ``-0.5`` and its
right edge to ``S - 0.5``, so ``c`` lands on the crop centre ``((S - 1)/2, (S - 1)/2)``.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import cv2
import numpy as np
import torch

from ffld.data.base import landmark_box

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def crop_matrix(box: np.ndarray, output_size: int, enlarge: float = 1.25) -> np.ndarray:
    """Matrix of the crop of a box.

    Args:
        box: (4,) ``(x0, y0, x1, y1)``.
        output_size: S, the side of the square crop in pixels.
        enlarge: the square's side is ``enlarge · max(x1 - x0, y1 - y0)``.

    Returns:
        (2, 3) float64 matrix, source pixel → crop pixel.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    side = enlarge * max(x1 - x0, y1 - y0)
    if not side > 0:
        raise ValueError(f"cannot crop an empty box {list(box)}")
    scale = output_size / side
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array(
        [[scale, 0.0, (output_size - 1) / 2 - scale * cx], [0.0, scale, (output_size - 1) / 2 - scale * cy]]
    )


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine matrix, as (2, 3)."""
    full = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def apply_affine(matrix: Array, points: Array) -> Array:
    """Map points through affine matrices.

    Args:
        matrix: (..., 2, 3) numpy array or tensor.
        points: (..., N, 2) of the same kind; leading dimensions broadcast with the matrix's.

    Returns:
        (..., N, 2) mapped points.
    """
    return (matrix[..., None, :, :2] @ points[..., None]).squeeze(-1) + matrix[..., None, :, 2]


def crop_face(
    image: np.ndarray, box: np.ndarray, output_size: int, enlarge: float = 1.25
) -> tuple[np.ndarray, np.ndarray]:
    """Crop a face.

    Args:
        image: H×W×C image.
        box: (4,) ``(x0, y0, x1, y1)``.
        output_size: S.
        enlarge: see :func:`crop_matrix`.

    Returns:
        ``(crop, matrix)``: the S×S×C crop (bilinear, zero outside the image) and its (2, 3) matrix; map
        predictions back to the image with ``apply_affine(invert_affine(matrix), points)``.
    """
    matrix = crop_matrix(box, output_size, enlarge)
    crop = cv2.warpAffine(
        image, matrix, (output_size, output_size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return crop, matrix


class CropFace:
    """Item transform for the readers: crop the face to S×S and map the landmarks and the box.

    Args:
        output_size: S.
        enlarge: see :func:`crop_matrix`.
        box: ``"landmarks"`` (the ground-truth landmarks' bounding box) or ``"dataset"`` (the item's ``box``).

    The item gets ``image`` (S×S×3), ``landmarks`` and ``box`` in crop coordinates, and ``crop_matrix`` ((2, 3)
    float32, original → crop).
    """

    def __init__(self, output_size: int, enlarge: float = 1.25, box: Literal["landmarks", "dataset"] = "landmarks"):
        if box not in ("landmarks", "dataset"):
            raise ValueError(f"box must be 'landmarks' or 'dataset', got {box!r}")
        self.output_size, self.enlarge, self.box = output_size, enlarge, box

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        box = landmark_box(item["landmarks"]) if self.box == "landmarks" else item["box"]
        crop, matrix = crop_face(item["image"], box, self.output_size, self.enlarge)
        corners = apply_affine(matrix, np.asarray(item["box"], dtype=np.float64).reshape(2, 2))
        return {
            **item,
            "image": crop,
            "landmarks": apply_affine(matrix, item["landmarks"].astype(np.float64)).astype(np.float32),
            "box": corners.reshape(4).astype(np.float32),
            "crop_matrix": matrix.astype(np.float32),
        }


__all__ = ["CropFace", "apply_affine", "crop_face", "crop_matrix", "invert_affine"]
