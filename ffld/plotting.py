"""Figures of the book that reproduce figures of the paper (Fig. 6, 7, 8), and a check that figures are labelled.

Every function returns the :class:`matplotlib.figure.Figure` it drew, after :func:`check_labelled` has passed on it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle

from ffld.crop import sample_locations
from ffld.landscapes import LOSS_TITLES, LOSSES, Contour, normalise

LANDSCAPE_CMAP = "turbo"
"""Blue for low values, red for high ones, as in Fig. 6."""


def check_labelled(figure: Figure) -> Figure:
    """Raise ``ValueError`` unless every panel has a title and axis labels and every colour bar a label.

    Panels with their axes switched off need only a title. Returns the figure, for chaining.
    """
    for axes in figure.axes:
        if axes.get_label() == "<colorbar>":
            if not (axes.get_ylabel() or axes.get_xlabel()):
                raise ValueError("a colour bar has no label")
            continue
        if not axes.get_title():
            raise ValueError(f"a panel has no title: {axes}")
        if axes.axison and not (axes.get_xlabel() and axes.get_ylabel()):
            raise ValueError(f"panel {axes.get_title()!r} lacks an axis label")
    return figure


def _image(axes, values, extent, title, cmap="gray", label=None, figure=None, **kwargs):
    shown = axes.imshow(np.asarray(values), extent=extent, cmap=cmap, **kwargs)
    axes.set_title(title)
    if label is not None and figure is not None:
        figure.colorbar(shown, ax=axes, fraction=0.046, pad=0.03, label=label)
    return shown


def landscape_figure(
    contour: Contour, landscapes: dict[str, torch.Tensor], offsets: torch.Tensor, patch_size: int = 8
) -> Figure:
    """Fig. 6: (a) the feature map around the truth, (b)–(e) normalised loss landscapes.

    Args:
        contour: the synthetic map (:func:`ffld.landscapes.contour_patch`).
        landscapes: loss name (of :data:`ffld.landscapes.LOSSES`) -> (K, K) landscape on ``offsets``.
        offsets: (K,) offsets of the prediction grid, in feature-map pixels.
        patch_size: side of the crop drawn on panel (a).
    """
    names = [name for name in LOSSES if name in landscapes]
    figure, axes = plt.subplots(1, len(names) + 1, figsize=(2.3 * (len(names) + 1), 2.6), layout="constrained")
    # Each landscape value belongs to one grid offset: its drawn cell is centred there, half a step either side.
    half_step = (offsets[1] - offsets[0]).item() / 2
    low, high = offsets[0].item() - half_step, offsets[-1].item() + half_step
    extent = (low, high, high, low)
    # (a): the region channel, in its own pixels, over the same window as the landscapes.
    truth_x, truth_y = contour.truth.tolist()
    height, width = contour.features.shape[-2:]
    columns = [m for m in range(width) if low - 0.5 <= m - truth_x <= high + 0.5]
    rows = [n for n in range(height) if low - 0.5 <= n - truth_y <= high + 0.5]
    window = contour.features[0, 0, rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    window_extent = (
        columns[0] - truth_x - 0.5,
        columns[-1] - truth_x + 0.5,
        rows[-1] - truth_y + 0.5,
        rows[0] - truth_y - 0.5,
    )
    _image(axes[0], window, window_extent, "(a) feature map, channel 0", vmin=0, vmax=1)
    axes[0].set_xlim(low, high)
    axes[0].set_ylim(high, low)
    axes[0].add_patch(Circle((0, 0), 0.9, fill=False, color="red", linewidth=1.5))
    half = patch_size / 2
    axes[0].add_patch(Rectangle((-half, -half), patch_size, patch_size, fill=False, color="red", linestyle="--"))
    for index, name in enumerate(names, start=1):
        _image(
            axes[index],
            normalise(landscapes[name]),
            extent,
            f"({'abcde'[index]}) {LOSS_TITLES[name]}",
            cmap=LANDSCAPE_CMAP,
            vmin=0,
            vmax=1,
        )
        axes[index].plot(0, 0, "o", markerfacecolor="none", markeredgecolor="white", markersize=6)
    for panel in axes:
        panel.set_xlabel("x offset (px)")
        panel.set_ylabel("y offset (px)")
    colorbar = figure.colorbar(axes[-1].images[0], ax=list(axes[1:]), fraction=0.02, pad=0.01)
    colorbar.set_label("loss, normalised per image")
    return check_labelled(figure)


def crop_figure(feature_map: np.ndarray, x: float, y: float, patch: np.ndarray, size: int) -> Figure:
    """Fig. 8: a bilinear crop. The map I with the crop centre and sample locations, and the patch V.

    Args:
        feature_map: (H, W) one channel of I.
        x, y: the crop centre, in feature-map pixels.
        patch: (size, size) the cropped patch V of that channel.
        size: patch side.
    """
    figure, (left, right) = plt.subplots(1, 2, figsize=(7.5, 3.4), layout="constrained")
    height, width = feature_map.shape
    _image(left, feature_map, (-0.5, width - 0.5, height - 0.5, -0.5), "I with the sample grid (Fig. 8)")
    locations = sample_locations(torch.tensor([[[x, y]]], dtype=torch.float64), size)[0, 0].reshape(-1, 2).numpy()
    left.plot(locations[:, 0], locations[:, 1], ".", color="red", markersize=4, label="samples $(x_p, y_q)$")
    left.plot([x], [y], "o", color="lime", markersize=6, label="crop centre $(x, y)$")
    first = locations[0]
    corners = np.array([[np.floor(first[0]) + dx, np.floor(first[1]) + dy] for dx in (0, 1) for dy in (0, 1)])
    left.plot(corners[:, 0], corners[:, 1], "s", markerfacecolor="none", color="deepskyblue", label="4 neighbours")
    left.legend(loc="lower left", fontsize=7, framealpha=0.8)
    left.set_xlabel("m (column), x")
    left.set_ylabel("n (row), y")
    _image(
        right,
        patch,
        (-0.5, size - 0.5, size - 0.5, -0.5),
        "patch V (Eq. 5)",
        vmin=feature_map.min(),
        vmax=feature_map.max(),
        label="value",
        figure=figure,
    )
    right.set_xlabel("p")
    right.set_ylabel("q")
    return check_labelled(figure)


GRADIENT_TITLES = {
    "low_level": r"$\nabla_{low\_level}$ (Eq. 9)",
    "crop_location": r"$\nabla_{crop\_location}$ (Eq. 16)",
    "standard": r"$\nabla_{standard}$ (Eq. 17)",
    "total": r"$\nabla I$ (Eq. 18)",
}


def gradient_figure(gradients: dict[str, torch.Tensor], points: torch.Tensor, title: str = "") -> Figure:
    """Fig. 7 measured: the magnitude of each gradient of Eq. 18 on the cropped feature map.

    Args:
        gradients: from :func:`ffld.gradients.first_stage_gradients` (batch of 1).
        points: (N, 2) crop locations :math:`S_0` in feature-map pixels, drawn on every panel.
        title: figure title.
    """
    names = [name for name in GRADIENT_TITLES if name in gradients]
    figure, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.9), layout="constrained")
    for panel, name in zip(axes, names, strict=True):
        magnitude = gradients[name][0].norm(dim=0).numpy()
        height, width = magnitude.shape
        _image(
            panel,
            magnitude,
            (-0.5, width - 0.5, height - 0.5, -0.5),
            GRADIENT_TITLES[name],
            cmap="magma",
            label="‖gradient‖ over channels",
            figure=figure,
        )
        panel.plot(points[:, 0], points[:, 1], "+", color="cyan", markersize=7)
        panel.set_xlabel("x (level-3 px)")
        panel.set_ylabel("y (level-3 px)")
    if title:
        figure.suptitle(title)
    return check_labelled(figure)


__all__ = ["GRADIENT_TITLES", "LANDSCAPE_CMAP", "check_labelled", "crop_figure", "gradient_figure", "landscape_figure"]
