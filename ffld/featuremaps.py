"""What the backbone's feature maps show at the landmarks: every level, and how much boundary each keeps (Fig. 2).

The paper's motivation (Sect. 1, Fig. 2) is that "the boundaries of facial components still remain clear on the
low-level feature maps" of a trained coordinate-regression network, while "higher-level feature maps present more
general information". This module makes the claim measurable on SynthFace, whose landmarks lie on visible
boundaries and come with the boundary's direction (``tangents``):

- :func:`feature_levels` returns the five levels of the ResNet backbone (levels 1–3 are the ones the refinement
  stages crop, :mod:`ffld.geometry`; levels 4 and 5 are ``layer3`` and ``layer4`` before pooling);
- :func:`boundary_response` measures, for every channel of a level, how much the map changes when one moves
  ``step`` image pixels *across* the boundary at each landmark, against the same move *along* it. A channel that
  encodes the boundary changes across it and not along it (ratio > 1); a channel that does not see it changes
  the same way in every direction (ratio ≈ 1). The change across, in units of the channel's standard deviation,
  is its *contrast*.

:func:`synthface_boundary_faces` loads test faces with their exact landmarks and boundary directions in the
model's input frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ffld.crop import crop_patches
from ffld.data.prepared import PreparedFaces, prepare_faces
from ffld.models import FFLD
from ffld.plotting import check_labelled

LEVELS: dict[int, tuple[str, int]] = {
    1: ("conv1/bn1/relu", 2),
    2: ("layer1", 4),
    3: ("layer2", 8),
    4: ("layer3", 16),
    5: ("layer4", 32),
}
"""Level -> (backbone module whose output it is, stride). Levels 1–3 are :data:`ffld.geometry.LEVEL_STRIDES`."""


@torch.no_grad()
def feature_levels(model: FFLD, images: torch.Tensor) -> list[torch.Tensor]:
    """The backbone's feature maps at the five levels of :data:`LEVELS`, in eval mode.

    Args:
        model: an :class:`~ffld.models.FFLD` (its refinement stages are not run).
        images: (B, 3, H, W) RGB in [0, 1], as the model takes them.

    Returns:
        [level 1, ..., level 5], level k of shape (B, C_k, H / s_k, W / s_k).
    """
    was_training = model.training
    model.eval()
    try:
        backbone = model.backbone
        x = (images.float() - model.mean) / model.std
        level1 = backbone.relu(backbone.bn1(backbone.conv1(x)))
        level2 = backbone.layer1(backbone.maxpool(level1))
        level3 = backbone.layer2(level2)
        level4 = backbone.layer3(level3)
        level5 = backbone.layer4(level4)
    finally:
        model.train(was_training)
    return [level1, level2, level3, level4, level5]


def sample_at(features: torch.Tensor, points: torch.Tensor, stride: int) -> torch.Tensor:
    """Bilinear values of every channel at image-pixel ``points``.

    Args:
        features: (B, C, H, W) maps of a level with stride ``stride``.
        points: (B, N, 2) ``(x, y)`` in image pixels.

    Returns:
        (B, N, C) values (zero outside the map), the same interpolation as the crops (Eq. 5).
    """
    return crop_patches(features, points / stride, 1)[..., 0, 0]


def normals_of(tangents: torch.Tensor) -> torch.Tensor:
    """Unit normals of (..., 2) unit tangents (the tangent turned by 90°, as SynthFace's annotation noise uses)."""
    return torch.stack([-tangents[..., 1], tangents[..., 0]], dim=-1)


@dataclass
class BoundaryResponse:
    """How the channels of one level respond to the boundaries at the landmarks.

    Attributes:
        level: 1..5.
        stride: the level's stride.
        shape: (C, H, W) of the level's maps.
        across: (C,) mean over visible landmarks of ``|F(p + step·n) - F(p - step·n)|``, ``n`` the boundary normal.
        along: (C,) the same with the tangent ``t``.
        contrast: (C,) ``across / (2·step)`` divided by the channel's standard deviation over all maps: the change
            per image pixel across the boundary, in units of the channel's own spread.
    """

    level: int
    stride: int
    shape: tuple[int, int, int]
    across: torch.Tensor
    along: torch.Tensor
    contrast: torch.Tensor

    @property
    def ratio(self) -> torch.Tensor:
        """(C,) across / along; 1 for a channel that is zero at every sample (no preference)."""
        silent = (self.across + self.along) == 0
        return torch.where(silent, torch.ones_like(self.across), self.across / self.along.clamp_min(1e-12))

    def boundary_fraction(self, threshold: float = 1.5) -> float:
        """The fraction of channels whose ratio exceeds ``threshold`` ("boundary channels")."""
        return float((self.ratio > threshold).float().mean())

    def row(self, threshold: float = 1.5) -> dict[str, Any]:
        """A summary row: level, map shape, stride, median ratio, boundary fraction and median contrast."""
        channels, height, width = self.shape
        return {
            "level": self.level,
            "maps": f"{height}×{width}×{channels}",
            "stride": self.stride,
            "median across/along": round(float(self.ratio.median()), 2),
            f"channels with ratio > {threshold:g}": round(self.boundary_fraction(threshold), 2),
            "median contrast (1/px)": round(float(self.contrast.median()), 3),
        }


def boundary_response(
    features: torch.Tensor,
    stride: int,
    points: torch.Tensor,
    tangents: torch.Tensor,
    visible: torch.Tensor | None = None,
    step: float = 1.0,
    level: int = 0,
) -> BoundaryResponse:
    """Measure a level's response across and along the boundaries at the landmarks (see the module docstring).

    Args:
        features: (B, C, H, W) maps of the level.
        stride: its stride.
        points: (B, N, 2) landmarks on boundaries, image pixels.
        tangents: (B, N, 2) unit boundary directions at the landmarks.
        visible: (B, N) landmarks to use (default: all).
        step: half the displacement, in image pixels.
        level: the level's number, recorded in the result.
    """
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    features, points, tangents = features.detach().float(), points.detach().float(), tangents.float()
    normals = normals_of(tangents)

    def change(direction: torch.Tensor) -> torch.Tensor:
        ahead = sample_at(features, points + step * direction, stride)
        return ahead - sample_at(features, points - step * direction, stride)

    across, along = change(normals), change(tangents)
    weight = (torch.ones(points.shape[:2]) if visible is None else visible.float())[..., None]
    count = weight.sum().clamp_min(1)
    across_mean = (across.abs() * weight).sum(dim=(0, 1)) / count
    along_mean = (along.abs() * weight).sum(dim=(0, 1)) / count
    spread = features.std(dim=(0, 2, 3))
    contrast = torch.where(spread > 0, across_mean / (2 * step) / spread.clamp_min(1e-12), torch.zeros_like(spread))
    return BoundaryResponse(level, stride, tuple(features.shape[1:]), across_mean, along_mean, contrast)


@dataclass
class BoundaryFaces:
    """SynthFace test faces in a model's input frame, with their boundaries.

    Attributes:
        faces: the prepared crops (:func:`ffld.data.prepared.prepare_faces`).
        points: (M, 68, 2) exact landmarks in crop pixels.
        tangents: (M, 68, 2) unit boundary directions (the crop is a scale and a shift: directions are unchanged).
        visible: (M, 68) not occluded.
    """

    faces: PreparedFaces
    points: torch.Tensor
    tangents: torch.Tensor
    visible: torch.Tensor

    @property
    def images(self) -> torch.Tensor:
        """(M, 3, S, S) float images in [0, 1], the model's input."""
        return self.faces.images.float() / 255

    def select(self, indices: list[int]) -> BoundaryFaces:
        """The faces at ``indices``."""
        index = torch.as_tensor(indices, dtype=torch.long)
        return BoundaryFaces(self.faces.select(index), self.points[index], self.tangents[index], self.visible[index])

    def with_random_directions(self, rng: np.random.Generator) -> BoundaryFaces:
        """The same faces, each landmark's tangent replaced by a direction drawn uniformly from [0, π).

        The control for :func:`boundary_response`: against directions that ignore the boundary, "across" and "along"
        are two arbitrary perpendicular moves, so every level's median ratio must come out ≈ 1.
        """
        angles = torch.from_numpy(rng.uniform(0, np.pi, size=self.tangents.shape[:2])).to(self.tangents.dtype)
        return BoundaryFaces(self.faces, self.points, torch.stack([angles.cos(), angles.sin()], dim=-1), self.visible)


def synthface_boundary_faces(
    metadata: dict[str, Any], count: int, split: str = "common", cache_dir: str | None = None
) -> BoundaryFaces:
    """The first ``count`` faces of a SynthFace test split, cropped as the model of ``metadata`` expects.

    The benchmark is generated with the generator settings the model was trained with (``metadata["config"]``),
    but holding only the requested split's first ``count`` images: image ``i`` of a split depends only on the seed,
    the split and ``i``, so these are the model's own test faces, generated in seconds.

    Args:
        metadata: a model file's metadata (:func:`ffld.checkpoint.load_model`).
        count: number of faces.
        split: "common" (moderate poses, no occluders) or "challenge".
        cache_dir: where SynthFace is cached (default: :func:`ffld.data.synthetic.ensure_synthface`'s).
    """
    from ffld.data.registry import synthface_config
    from ffld.data.synthetic import SPLITS, SynthFace, ensure_synthface

    options = dict(metadata.get("config", {}).get("data", {}).get("synthface") or {})
    for name in SPLITS:
        options[name] = {**options.get(name, {}), "size": count if name == split else 0}
    config = synthface_config(options)
    root = ensure_synthface(config) if cache_dir is None else ensure_synthface(config, cache_dir=cache_dir)
    dataset = SynthFace(root, split)
    faces = prepare_faces(dataset, metadata["input_size"], metadata["enlarge"], metadata["box"])
    matrices = faces.matrices.float()
    clean = faces.extras["clean_landmarks"].float()
    points = (matrices[:, None, :, :2] @ clean[..., None]).squeeze(-1) + matrices[:, None, :, 2]
    tangents = torch.stack([torch.from_numpy(dataset[i]["tangents"]) for i in range(len(dataset))]).float()
    return BoundaryFaces(faces, points, tangents, ~faces.extras["occluded"].bool())


def boundary_table(model: FFLD, faces: BoundaryFaces, step: float = 1.0) -> list[BoundaryResponse]:
    """:func:`boundary_response` of every level of :func:`feature_levels` on ``faces``."""
    levels = feature_levels(model, faces.images)
    return [
        boundary_response(maps, LEVELS[k][1], faces.points, faces.tangents, faces.visible, step, level=k)
        for k, maps in enumerate(levels, start=1)
    ]


def active_channels(maps: torch.Tensor, count: int) -> list[int]:
    """The ``count`` channels of (C, h, w) maps with the largest spatial variance, largest first.

    A choice blind to boundaries, for showing "some channels" of a level without picking the ones that make a point.
    """
    return torch.argsort(maps.flatten(1).var(dim=1), descending=True, stable=True)[:count].tolist()


def map_extent(size: int, height: int, width: int) -> tuple[float, float, float, float]:
    """The ``imshow`` extent ``(left, right, bottom, top)`` in image pixels of an (height, width) feature map of a
    size×size input, in ffld's convention (:mod:`ffld.geometry`): map pixel ``(n, m)`` of stride ``s = size / width``
    is centred on image pixel ``(x, y) = (s·m, s·n)``, so it covers ``s·m ± s/2``."""
    stride_x, stride_y = size / width, size / height
    return (-stride_x / 2, size - stride_x / 2, size - stride_y / 2, -stride_y / 2)


def _show_map(axes, values: np.ndarray, size: int, title: str, cmap: str = "viridis"):
    """Draw a feature map over the input image's coordinates (:func:`map_extent`; nearest: each map pixel stays
    visible)."""
    shown = axes.imshow(values, cmap=cmap, extent=map_extent(size, *values.shape), interpolation="nearest")
    axes.set_title(title)
    axes.set_axis_off()
    return shown


def feature_grid_figure(
    image: torch.Tensor,
    levels: list[torch.Tensor],
    channels: dict[int, list[int]],
    points: torch.Tensor | None = None,
) -> Figure:
    """Fig. 2: one face and some channels of every level, each map stretched to the image's size.

    Args:
        image: (3, S, S) the input, in [0, 1].
        levels: [level 1, ..., level 5] maps of this face, each (C_k, h_k, w_k).
        channels: level -> the channels to show (the same number for every level).
        points: (N, 2) landmarks in image pixels, drawn on the input.
    """
    columns = 1 + max(len(shown) for shown in channels.values())
    figure, axes = plt.subplots(len(levels), columns, figsize=(1.5 * columns, 1.55 * len(levels)), squeeze=False)
    size = image.shape[-1]
    for row, maps in enumerate(levels):
        level = row + 1
        first = axes[row, 0]
        first.imshow(image.permute(1, 2, 0).numpy())
        if points is not None:
            first.plot(*points.T, ".", color="red", markersize=1.5)
        height, width = maps.shape[-2:]
        first.set_title(f"level {level}: {height}×{width}×{maps.shape[0]}")
        first.set_axis_off()
        for column, channel in enumerate(channels[level], start=1):
            _show_map(axes[row, column], maps[channel].numpy(), size, f"level {level}, channel {channel}")
        for column in range(1 + len(channels[level]), columns):
            axes[row, column].set_title("–")
            axes[row, column].set_axis_off()
    figure.tight_layout(pad=0.4)
    return check_labelled(figure)


def channel_figure(
    image: torch.Tensor,
    maps: torch.Tensor,
    level: int,
    channel: int,
    points: torch.Tensor,
    ratio: float,
) -> Figure:
    """One channel of one level next to the face it was computed from (the chapter's widget).

    Args:
        image: (3, S, S) the input, in [0, 1].
        maps: (C, h, w) the level's maps for this face.
        level, channel: what is shown.
        points: (N, 2) landmarks in image pixels.
        ratio: the channel's across/along ratio (:class:`BoundaryResponse`), shown in the title.
    """
    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(7.8, 2.8), layout="constrained")
    size = image.shape[-1]
    left.imshow(image.permute(1, 2, 0).numpy())
    left.plot(*points.T, ".", color="red", markersize=2)
    left.set(title="input and landmarks", xlabel="x (image px)", ylabel="y (image px)")
    values = maps[channel].numpy()
    extent = map_extent(size, *values.shape)
    shown = middle.imshow(values, cmap="viridis", extent=extent, interpolation="nearest")
    middle.plot(*points.T, ".", color="red", markersize=1.5)
    height, width = values.shape
    middle.set(
        title=f"level {level} ({height}×{width}), channel {channel}", xlabel="x (image px)", ylabel="y (image px)"
    )
    figure.colorbar(shown, ax=middle, fraction=0.046, pad=0.03, label="activation")
    gy, gx = np.gradient(values)
    magnitude = np.hypot(gx, gy)
    shown = right.imshow(magnitude, cmap="magma", extent=extent, interpolation="nearest")
    right.plot(*points.T, ".", color="cyan", markersize=1.5)
    right.set(title=f"|gradient|, across/along = {ratio:.2f}", xlabel="x (image px)", ylabel="y (image px)")
    figure.colorbar(shown, ax=right, fraction=0.046, pad=0.03, label="per map pixel")
    return check_labelled(figure)


def response_figure(responses: list[BoundaryResponse], threshold: float = 1.5) -> Figure:
    """Per level: the distribution of the channels' across/along ratios and their contrast (the measure of Fig. 2)."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(8.0, 2.8), layout="constrained")
    positions = [response.level for response in responses]
    left.boxplot([response.ratio.numpy() for response in responses], positions=positions, widths=0.5)
    left.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    left.axhline(threshold, color="red", linewidth=0.8, linestyle="--", label=f"boundary channel (> {threshold:g})")
    left.set(title="change across / along the boundary", xlabel="level", ylabel="ratio, per channel")
    left.legend(fontsize=7)
    right.boxplot([response.contrast.numpy() for response in responses], positions=positions, widths=0.5)
    right.set(title="change across the boundary", xlabel="level", ylabel="contrast (channel std per px)")
    return check_labelled(figure)


__all__ = [
    "LEVELS",
    "BoundaryFaces",
    "BoundaryResponse",
    "active_channels",
    "boundary_response",
    "boundary_table",
    "channel_figure",
    "feature_grid_figure",
    "feature_levels",
    "map_extent",
    "normals_of",
    "response_figure",
    "sample_at",
    "synthface_boundary_faces",
]
