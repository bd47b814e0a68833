"""Landmark-consistent augmentation: Sect. 6.6's ±20 % scale, ±10 % horizontal/vertical translation and "±20% in
rotation" (read as ±20°), and a horizontal flip, ffld's addition (``flip=0`` gives the paper's recipe), that also
renumbers the landmarks with the layout's flip permutation.

The random parameters of a sample define ONE affine map ``M`` (3×3, source pixel → output pixel, 0-based pixel
centres), built once by :func:`affine_matrices`::

    M = T(c + t) · R(θ) · S(s) · T(-c) · F

with ``c = ((W-1)/2, (H-1)/2)`` the image centre, ``t = (t_x·W, t_y·H)``, ``R`` the rotation by ``θ``, ``S`` the
isotropic scale ``s`` and ``F`` the mirror ``x → W-1-x`` (or the identity). The same ``M`` moves the landmarks
(``p → M p``, then, for flipped samples, landmark ``i`` takes the moved landmark ``perm[i]``) and resamples the
image (bilinear, zeros outside):

* one sample (H×W×C numpy image): ``cv2.warpAffine`` with ``M[:2]`` (:meth:`LandmarkAugment.__call__`);
* a batch on the training device (B×C×H×W tensor, CPU or CUDA), per-sample parameters:
  ``torch.nn.functional.affine_grid``/``grid_sample`` with ``align_corners=False``, where pixel ``x`` sits at the
  normalised coordinate ``(2x + 1)/W - 1`` (:meth:`LandmarkAugment.batch`).

torchvision's keypoint-aware v2 affine (``tv_tensors.KeyPoints``) gives the same landmark map (the tests check it,
allowing for its pixel-edge coordinates: the centre of the top-left pixel is (0.5, 0.5) there), but it is not used
to apply the augmentation: it draws one set of parameters per call and has no mirror term, so it cannot give a
per-sample map composed with the flip (and this module needs only torch).
Parameters are drawn on the CPU from a seeded ``torch.Generator``, so a seed gives the same batch on any device.

The trainer augments the prepared face crops (the box enlarged by ``data.enlarge``, cropped once, kept on the
device), not the original images. What a shrink, a shift or a rotation brings into the frame from beyond the crop
is therefore black, even where the original image had content, and a landmark may leave the frame (its coordinates
then lie outside ``[0, W-1] × [0, H-1]``; it is still regressed). The paper does not say how its augmentation pads;
test crops are never augmented.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import cv2
import torch
import torch.nn.functional as F

from ffld.data.facecrop import move_item


class AffineParams(NamedTuple):
    """Per-sample augmentation parameters, each a (B,) float64 CPU tensor (``flip`` is bool)."""

    scale: torch.Tensor
    translate_x: torch.Tensor
    translate_y: torch.Tensor
    angle: torch.Tensor
    flip: torch.Tensor


class AugmentedBatch(NamedTuple):
    """Result of :meth:`LandmarkAugment.batch`.

    Attributes:
        images: (B, C, H, W), dtype and device of the input.
        landmarks: (B, N, 2) float32, renumbered where flipped.
        matrices: (B, 3, 3) float64 on the input's device, source pixel → output pixel.
        flip: (B,) bool; use :func:`flip_points` on further per-landmark tensors.
    """

    images: torch.Tensor
    landmarks: torch.Tensor
    matrices: torch.Tensor
    flip: torch.Tensor


def affine_matrices(params: AffineParams, height: int, width: int) -> torch.Tensor:
    """(B, 3, 3) float64 matrices ``M = T(c + t)·R(θ)·S(s)·T(-c)·F`` (source pixel → output pixel)."""
    batch = params.scale.shape[0]
    cx, cy = (width - 1) / 2, (height - 1) / 2
    cos, sin = torch.cos(params.angle), torch.sin(params.angle)
    mirror = torch.where(params.flip, -1.0, 1.0).to(torch.float64)
    # F: x -> mirror * (x - cx) + cx, about the centre, so the centring below absorbs it.
    linear = torch.stack([torch.stack([cos * mirror, -sin], -1), torch.stack([sin * mirror, cos], -1)], -2)
    linear = linear * params.scale[:, None, None]
    centre = torch.tensor([cx, cy], dtype=torch.float64)
    shift = torch.stack([params.translate_x * width, params.translate_y * height], -1)
    matrices = torch.zeros(batch, 3, 3, dtype=torch.float64)
    matrices[:, :2, :2] = linear
    matrices[:, :2, 2] = centre + shift - (linear @ centre)
    matrices[:, 2, 2] = 1.0
    return matrices


def flip_points(values: torch.Tensor, flip: torch.Tensor, permutation: torch.Tensor) -> torch.Tensor:
    """Renumber per-landmark values of flipped samples: (B, N, ...) → (B, N, ...), ``out[b, i] = values[b,
    permutation[i]]`` where ``flip[b]``."""
    mask = flip.to(values.device).reshape(-1, *([1] * (values.dim() - 1)))
    return torch.where(mask, values[:, permutation.to(values.device)], values)


def move_landmarks(landmarks: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Apply (B, 3, 3) matrices to (B, N, 2) points (no renumbering); computed in float64."""
    points = landmarks.to(torch.float64)
    return points @ matrices[:, :2, :2].transpose(1, 2) + matrices[:, None, :2, 2]


def warp_images(images: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Resample (B, C, H, W) images through (B, 3, 3) source→output matrices (bilinear, zeros outside).

    A uint8 batch is resampled in float32 and rounded back to uint8; a floating batch keeps its dtype.
    """
    _, _, height, width = images.shape
    to_normalised = torch.tensor(
        [[2 / width, 0, 1 / width - 1], [0, 2 / height, 1 / height - 1], [0, 0, 1]],
        dtype=torch.float64,
        device=matrices.device,
    )
    # grid_sample looks up, for each output position, the input position: N · M⁻¹ · N⁻¹ in normalised coordinates.
    theta = to_normalised @ torch.linalg.inv(matrices) @ torch.linalg.inv(to_normalised)
    work = images.float() if images.dtype == torch.uint8 else images
    grid = F.affine_grid(theta[:, :2].to(work.dtype), list(images.shape), align_corners=False)
    out = F.grid_sample(work, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8) if images.dtype == torch.uint8 else out


class LandmarkAugment:
    """Random scale, translation, rotation and flip, applied as one affine map to images and landmarks.

    Args:
        flip_permutation: the layout's (N,) flip permutation (``spec.flip_permutation``).
        scale: scale factors are drawn from ``[1 - scale, 1 + scale]`` (paper: 0.2).
        translate: shifts from ``[-translate, translate]`` times the image width / height (paper: 0.1).
        rotate: angles from ``[-rotate, rotate]`` degrees (paper: 20).
        flip: probability of a horizontal flip.
        generator: seeded CPU ``torch.Generator`` for reproducible draws (default: torch's global RNG).
    """

    def __init__(
        self,
        flip_permutation: Sequence[int],
        scale: float = 0.2,
        translate: float = 0.1,
        rotate: float = 20.0,
        flip: float = 0.5,
        generator: torch.Generator | None = None,
    ) -> None:
        self.permutation = torch.as_tensor(list(flip_permutation), dtype=torch.long)
        self.scale, self.translate, self.rotate, self.flip = scale, translate, rotate, flip
        self.generator = generator

    def sample(self, batch: int) -> AffineParams:
        """Draw the parameters of ``batch`` samples."""

        def uniform(half_width: float) -> torch.Tensor:
            u = torch.rand(batch, generator=self.generator, dtype=torch.float64)
            return (2 * u - 1) * half_width

        return AffineParams(
            scale=1 + uniform(self.scale),
            translate_x=uniform(self.translate),
            translate_y=uniform(self.translate),
            angle=uniform(math.radians(self.rotate)),
            flip=torch.rand(batch, generator=self.generator, dtype=torch.float64) < self.flip,
        )

    def batch(
        self, images: torch.Tensor, landmarks: torch.Tensor, params: AffineParams | None = None
    ) -> AugmentedBatch:
        """Augment a batch where it lies (CPU or GPU), each sample with its own parameters.

        Args:
            images: (B, C, H, W) uint8 or floating tensor.
            landmarks: (B, N, 2) tensor on the same device, 0-based ``(x, y)`` in the images.
            params: parameters to use instead of drawing new ones.
        """
        batch, _, height, width = images.shape
        self._check_count(landmarks.shape[1])
        params = self.sample(batch) if params is None else params
        matrices = affine_matrices(params, height, width).to(images.device)
        moved = move_landmarks(landmarks, matrices).to(torch.float32)
        flip = params.flip.to(images.device)
        return AugmentedBatch(
            images=warp_images(images, matrices),
            landmarks=flip_points(moved, flip, self.permutation),
            matrices=matrices,
            flip=flip,
        )

    def _check_count(self, count: int) -> None:
        if count != len(self.permutation):
            raise ValueError(
                f"the flip permutation has {len(self.permutation)} entries but the landmarks number {count}: "
                "pass the layout of the data (spec.flip_permutation)"
            )

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        """Augment one item dict (``image`` H×W×C numpy, ``landmarks`` (N, 2)) with ``cv2.warpAffine``.

        The item's other geometry moves with the image (:func:`ffld.data.facecrop.move_item`: SynthFace's
        ``clean_landmarks``, ``tangents`` and ``pose``, the flags, ``box`` and ``crop_matrix``);
        ``augment_matrix`` ((3, 3) float64) is added.
        """
        self._check_count(len(item["landmarks"]))
        image = item["image"]
        height, width = image.shape[:2]
        params = self.sample(1)
        matrix = affine_matrices(params, height, width)[0].numpy()
        order = self.permutation.numpy() if bool(params.flip[0]) else None
        warped = cv2.warpAffine(
            image, matrix[:2], (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        return {**move_item(item, matrix, order), "image": warped, "augment_matrix": matrix}


__all__ = [
    "AffineParams",
    "AugmentedBatch",
    "LandmarkAugment",
    "affine_matrices",
    "flip_points",
    "move_landmarks",
    "warp_images",
]
