"""Figures of chapters 6–8: CED curves (Fig. 9, 11), ΔS histograms (Fig. 13), faces with their landmarks (Fig. 10,
12, 14) and learning-rate schedules (Sect. 6.6). Every function returns the figure it drew, checked by
:func:`ffld.plotting.check_labelled`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ffld.analysis import ced_points
from ffld.plotting import check_labelled


def ced_figure(
    curves: dict[str, np.ndarray],
    high: float,
    title: str,
    low: float = 0.0,
    mark: float | None = None,
    xlabel: str = "NME (%)",
    ylabel: str = "fraction of images",
) -> Figure:
    """CED curves of several error sets (fractions) between ``low`` and ``high``, drawn in %.

    Args:
        curves: label -> errors (per-image NMEs for Fig. 9, per-landmark errors for Fig. 11).
        mark: an error at which a vertical line is drawn (Fig. 11 samples the curves at 2.75%).
    """
    figure, axes = plt.subplots(figsize=(5.2, 3.2), layout="constrained")
    for index, (label, errors) in enumerate(curves.items()):
        thresholds, fractions = ced_points(errors, low, high)
        axes.plot(100 * thresholds, fractions, label=label, linestyle="-" if index < 4 else "--")
    if mark is not None:
        axes.axvline(100 * mark, color="gray", linewidth=0.8, linestyle=":")
    axes.set(xlabel=xlabel, ylabel=ylabel, title=title, xlim=(100 * low, 100 * high))
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="lower right")
    return check_labelled(figure)


def delta_histogram_figure(deltas: np.ndarray, strides: Sequence[int], bins: int = 81) -> Figure:
    """Fig. 13: one panel per refinement stage, the histogram of the components of ΔS (x and y, every landmark).

    Args:
        deltas: (K, M, N, 2) corrections in input pixels.
        strides: the stride of the feature level each stage crops (8, 4, 2).
    """
    count = deltas.shape[0]
    figure, axes = plt.subplots(1, count, figsize=(2.9 * count, 2.6), layout="constrained", squeeze=False)
    for k, panel in enumerate(axes[0]):
        stage = deltas[k]
        limit = max(float(np.abs(stage).max()), 1e-6)
        for axis, name in enumerate(("x", "y")):
            panel.hist(stage[..., axis].ravel(), bins=bins, range=(-limit, limit), histtype="step", label=f"Δ{name}")
        panel.set_yscale("log")
        panel.set(title=f"stage {k + 1} (stride {strides[k]})", xlabel="ΔS component (input px)", ylabel="count")
        panel.legend(fontsize=7)
    return check_labelled(figure)


def landmark_windows(truth: np.ndarray, enlarge: float = 1.3) -> np.ndarray:
    """(M, 4) square windows ``x0, y0, x1, y1`` around each face's (M, N, 2) ``truth`` landmarks, ``enlarge`` times
    the larger side of their box."""
    low, high = truth.min(axis=1), truth.max(axis=1)
    centre, half = (low + high) / 2, enlarge * (high - low).max(axis=1, keepdims=True) / 2
    return np.concatenate([centre - half, centre + half], axis=1)


MARKERS = (("x", "red"), ("+", "deepskyblue"), ("1", "yellow"), ("2", "magenta"))
"""Marker and colour of the first, second, ... prediction drawn on a face (the truth is a green dot)."""


def _face_panel(
    panel: Axes,
    image: np.ndarray,
    truth: np.ndarray,
    predictions: dict[str, np.ndarray],
    title: str,
    window: np.ndarray | None = None,
    hidden: np.ndarray | None = None,
    first: int = 0,
    size: float = 4.0,
) -> None:
    """One face on ``panel``: the (N, 2) ``truth`` as green dots (``hidden`` ones, (N,) bool, as open circles),
    each (N, 2) prediction with the marker :data:`MARKERS` ``[first + j]`` (``size`` points), the
    ``x0, y0, x1, y1`` ``window``."""
    panel.imshow(image, interpolation="bilinear")
    shown = np.ones(len(truth), bool) if hidden is None else ~np.asarray(hidden, bool)
    panel.plot(*truth[shown].T, ".", color="lime", markersize=0.875 * size, label="truth")
    if not shown.all():
        panel.plot(*truth[~shown].T, "o", markerfacecolor="none", color="lime", markersize=size, label="truth, hidden")
    for j, (label, points) in enumerate(predictions.items()):
        marker, colour = MARKERS[first + j]
        panel.plot(*points.T, marker, color=colour, markersize=size, label=label)
    if window is not None:
        x0, y0, x1, y1 = window
        panel.set_xlim(x0, x1)
        panel.set_ylim(y1, y0)
    panel.set_title(title, fontsize=7.5)
    panel.axis("off")


def faces_figure(
    images: Sequence[np.ndarray],
    truth: np.ndarray,
    predictions: dict[str, np.ndarray],
    titles: Sequence[str],
    crop: np.ndarray | None = None,
    hidden: np.ndarray | None = None,
) -> Figure:
    """Faces in a row with the ground truth and predictions (Fig. 12, 14).

    Args:
        images: H×W×3 uint8 images.
        truth: (M, N, 2) landmarks in image pixels, drawn as green dots.
        predictions: label -> (M, N, 2) predictions, drawn as crosses.
        titles: one per face.
        crop: optional (M, 4) ``x0, y0, x1, y1`` window shown of each image (e.g. :func:`landmark_windows`).
        hidden: optional (M, N) mask of hidden landmarks, whose truth is drawn as an open circle.
    """
    count = len(images)
    figure, axes = plt.subplots(1, count, figsize=(2.9 * count, 3.1), layout="constrained", squeeze=False)
    for index, panel in enumerate(axes[0]):
        _face_panel(
            panel,
            images[index],
            truth[index],
            {label: points[index] for label, points in predictions.items()},
            titles[index],
            None if crop is None else crop[index],
            None if hidden is None else hidden[index],
        )
    axes[0][0].legend(fontsize=6, loc="lower left", framealpha=0.7)
    return check_labelled(figure)


def qualitative_figure(
    images: Sequence[np.ndarray],
    truth: np.ndarray,
    rows: dict[str, np.ndarray],
    faces: np.ndarray,
    zooms: np.ndarray,
    errors: dict[str, np.ndarray],
    zoom_title: str = "zoomed",
) -> Figure:
    """Fig. 10: one row per model, each face shown whole and, beside it, zoomed (the paper's zoomed image aside).

    Args:
        images: M H×W×3 uint8 images.
        truth: (M, N, 2) landmarks in image pixels, drawn as green dots.
        rows: model label -> (M, N, 2) its predictions, one row each, top to bottom.
        faces: (M, 4) ``x0, y0, x1, y1`` window of each whole face (e.g. :func:`landmark_windows`).
        zooms: (M, 4) the zoomed window of each face (e.g. :func:`landmark_windows` of an eye's landmarks).
        errors: model label -> (M,) NMEs in %, printed in the titles.
        zoom_title: the title of the zoomed panels (e.g. what they show).
    """
    count = len(images)
    figure, axes = plt.subplots(
        len(rows), 2 * count, figsize=(1.75 * 2 * count, 1.95 * len(rows)), layout="constrained", squeeze=False
    )
    for r, (label, points) in enumerate(rows.items()):
        for index in range(count):
            shown = {label: points[index]}
            title = f"{label}: NME {errors[label][index]:.2f}%"
            _face_panel(axes[r][2 * index], images[index], truth[index], shown, title, faces[index], first=r)
            zoomed = axes[r][2 * index + 1]
            _face_panel(zoomed, images[index], truth[index], shown, zoom_title, zooms[index], first=r, size=8.0)
        axes[r][0].legend(fontsize=6, loc="lower left", framealpha=0.7)
    return check_labelled(figure)


def schedule_figure(schedules: dict[str, np.ndarray], title: str) -> Figure:
    """Learning rate against epoch, one step curve per schedule (log scale)."""
    figure, axes = plt.subplots(figsize=(6.0, 2.8), layout="constrained")
    for label, rates in schedules.items():
        axes.step(np.arange(1, len(rates) + 1), rates, where="post", label=label)
    axes.set(yscale="log", xlabel="epoch", ylabel="learning rate", title=title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    return check_labelled(figure)


__all__ = [
    "MARKERS",
    "ced_figure",
    "delta_histogram_figure",
    "faces_figure",
    "landmark_windows",
    "qualitative_figure",
    "schedule_figure",
]
