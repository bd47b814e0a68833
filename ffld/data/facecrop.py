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
        raise ValueError(f"cannot crop an empty box ({x0:g}, {y0:g}, {x1:g}, {y1:g})")
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


POINT_KEYS = ("landmarks", "clean_landmarks")
"""Item entries that are (N, 2) points in the item's image."""
DIRECTION_KEYS = ("tangents",)
"""Item entries that are (N, 2) unit directions in the item's image."""
FLAG_KEYS = ("occluded", "visible")
"""Item entries that are (N,) per-landmark flags."""


def move_item(item: dict[str, Any], matrix: np.ndarray, order: np.ndarray | None = None) -> dict[str, Any]:
    """An item dict's geometry mapped through the affine map that made its new image; the image is not touched.

    With ``A`` the linear part of ``matrix`` and ``t`` its shift, and per-landmark entries then renumbered by
    ``order`` (entry ``i`` takes entry ``order[i]``):

    - points (:data:`POINT_KEYS`): ``p → A p + t``;
    - directions (:data:`DIRECTION_KEYS`): ``d → A d / |A d|``;
    - flags (:data:`FLAG_KEYS`): renumbered only;
    - ``box`` (4,) ``(x0, y0, x1, y1)``: the axis-aligned box enclosing its four mapped corners (torchvision's
      convention for rotated boxes; exact for a scale and a shift);
    - ``crop_matrix`` (2, 3), original image → item image: becomes original image → new image;
    - ``pose`` (3,) yaw, pitch, roll in degrees (yaw > 0 turns the nose to +x, roll > 0 turns the face clockwise on
      screen): a mirror (``det A < 0``) negates yaw and roll, then the map's rotation angle is added to roll.

    Other entries are copied as they are.

    Args:
        item: a reader's item dict.
        matrix: (2, 3) or (3, 3) source pixel → new pixel.
        order: (N,) renumbering, required for a mirroring map (the layout's flip permutation); None keeps the order.
    """
    matrix = np.asarray(matrix, dtype=np.float64)[:2]
    linear = matrix[:, :2]
    mirrored = np.linalg.det(linear) < 0
    if mirrored and order is None:
        raise ValueError("a mirroring map needs the layout's flip permutation (order) to renumber the landmarks")
    count = len(item["landmarks"])
    if order is None:
        order = np.arange(count)
    elif len(order) != count:
        raise ValueError(f"the renumbering has {len(order)} entries but the item has {count} landmarks")
    out = dict(item)
    for key in POINT_KEYS:
        if key in item:
            moved = apply_affine(matrix, np.asarray(item[key], dtype=np.float64))
            out[key] = moved[order].astype(np.asarray(item[key]).dtype)
    for key in DIRECTION_KEYS:
        if key in item:
            directions = np.asarray(item[key], dtype=np.float64) @ linear.T
            directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
            out[key] = directions[order].astype(np.asarray(item[key]).dtype)
    for key in FLAG_KEYS:
        if key in item:
            out[key] = np.asarray(item[key])[order]
    if "box" in item:
        x0, y0, x1, y1 = np.asarray(item["box"], dtype=np.float64)
        corners = apply_affine(matrix, np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]]))
        out["box"] = np.concatenate([corners.min(0), corners.max(0)]).astype(np.float32)
    if "crop_matrix" in item:
        before = np.vstack([np.asarray(item["crop_matrix"], dtype=np.float64), [0.0, 0.0, 1.0]])
        out["crop_matrix"] = (np.vstack([matrix, [0.0, 0.0, 1.0]]) @ before)[:2].astype(np.float32)
    if "pose" in item:
        yaw, pitch, roll = np.asarray(item["pose"], dtype=np.float64)
        unmirrored = linear @ np.diag([-1.0, 1.0]) if mirrored else linear
        angle = np.degrees(np.arctan2(unmirrored[1, 0], unmirrored[0, 0]))
        sign = -1.0 if mirrored else 1.0
        roll = (sign * roll + angle + 180.0) % 360.0 - 180.0
        out["pose"] = np.array([sign * yaw, pitch, roll], dtype=np.asarray(item["pose"]).dtype)
    return out


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

    The item gets ``image`` (S×S×3), its geometry in crop coordinates (:func:`move_item`: ``landmarks``, ``box``
    and SynthFace's ``clean_landmarks``, ``tangents`` and ``pose``), and ``crop_matrix`` ((2, 3) float32, original →
    crop).
    """

    def __init__(self, output_size: int, enlarge: float = 1.25, box: Literal["landmarks", "dataset"] = "landmarks"):
        if box not in ("landmarks", "dataset"):
            raise ValueError(f"box must be 'landmarks' or 'dataset', got {box!r}")
        self.output_size, self.enlarge, self.box = output_size, enlarge, box

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        box = landmark_box(item["landmarks"]) if self.box == "landmarks" else item["box"]
        crop, matrix = crop_face(item["image"], box, self.output_size, self.enlarge)
        moved = move_item({"crop_matrix": np.eye(3)[:2], **item}, matrix)  # composed with an earlier crop's
        return {**moved, "image": crop}


__all__ = [
    "DIRECTION_KEYS",
    "FLAG_KEYS",
    "POINT_KEYS",
    "CropFace",
    "apply_affine",
    "crop_face",
    "crop_matrix",
    "invert_affine",
    "move_item",
]
