r"""Loss landscapes on a synthetic contour patch (Sect. 4, Fig. 6).

Fig. 6 simulates "an artificial feature map patch as a crop on a landmark localized on the face contour" and
shows, for every prediction position around the truth, the value of four losses: L2 (b), L1 (c), heat-map L2 (d)
and Align Loss (e), each normalised on its own image. This module builds such a patch and computes those
landscapes with the library's losses (:mod:`ffld.losses`, :mod:`ffld.heatmaps`), plus the two numbers the
book measures on them: Align Loss's anisotropy (across vs along the boundary) and the saturation of the robust
losses far from the truth.

**The synthetic contour.** The truth sits at the centre of a square feature map. The boundary passes through it
with unit normal :math:`\mathbf n = (\cos\theta, \sin\theta)` (``orientation`` θ in degrees, image axes, y
down) and signed curvature κ (``curvature``, 1/pixels; 0 is a straight line, κ > 0 bends the boundary around
the side :math:`\mathbf n` points to, like a chin seen from outside the face). With :math:`d(\mathbf p)` the
signed distance of pixel :math:`\mathbf p` to the boundary (positive on the :math:`\mathbf n` side), the map has
two channels, two kinds of response a low-level CNN feature map shows at a boundary (Fig. 2, Fig. 5):

- a *region* channel :math:`\sigma(d / s)` (``softness`` s): inside vs outside of the face component;
- an *edge* channel :math:`\exp(-d^2 / 2w^2)` (``edge_width`` w): a ridge on the boundary line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.func import vmap

from ffld.heatmaps import heatmap_l2_loss
from ffld.losses import align_loss, l1_loss, l2_loss

LOSSES = ("l2", "l1", "heatmap_l2", "align")
"""Losses of Fig. 6 (b)–(e), in the figure's order."""

LOSS_TITLES = {"l2": "L2 loss", "l1": "L1 loss", "heatmap_l2": "heat-map L2 loss", "align": "Align Loss"}
"""Display names, as in the caption of Fig. 6."""


class Contour(NamedTuple):
    """A synthetic feature map around a landmark on a contour.

    Attributes:
        features: (1, 2, size, size) float64 map, channels ``[region, edge]``.
        truth: (2,) the ground-truth landmark ``(x, y)`` on the boundary, in feature-map pixels.
        normal: (2,) unit normal to the boundary at the truth (``(x, y)``; across the boundary).
        tangent: (2,) unit tangent at the truth (along the boundary).
        curvature: the signed curvature κ the map was built with.
    """

    features: torch.Tensor
    truth: torch.Tensor
    normal: torch.Tensor
    tangent: torch.Tensor
    curvature: float


def signed_distance(points: torch.Tensor, truth: torch.Tensor, normal: torch.Tensor, curvature: float) -> torch.Tensor:
    r"""Signed distance to a circle (or line, κ = 0) through ``truth`` with normal ``normal`` and curvature κ.

    For κ ≠ 0 the boundary is the circle of radius 1/|κ| centred at :math:`\mathbf t + \mathbf n / \kappa`;
    the distance is positive on the side :math:`\mathbf n` points to at the truth.

    Args:
        points: (..., 2) positions ``(x, y)``.
        truth, normal: (2,) tensors.
        curvature: κ in 1/pixels.

    Returns:
        (...,) signed distances in pixels.
    """
    if curvature == 0:
        return ((points - truth) * normal).sum(-1)
    centre = truth + normal / curvature
    radius = 1 / abs(curvature)
    return math.copysign(1.0, curvature) * (radius - (points - centre).norm(dim=-1))


def contour_patch(
    size: int = 48,
    orientation: float = 30.0,
    curvature: float = 0.05,
    softness: float = 0.6,
    edge_width: float = 0.8,
) -> Contour:
    """Build the synthetic two-channel feature map of Fig. 6 (see the module docstring).

    Args:
        size: side of the square map; the truth is at its centre ``((size-1)/2, (size-1)/2)``.
        orientation: direction θ of the boundary normal, in degrees.
        curvature: signed curvature κ of the boundary at the truth, in 1/pixels.
        softness: width s of the region channel's sigmoid step, in pixels.
        edge_width: width w of the edge channel's ridge, in pixels.

    Returns:
        A :class:`Contour`.
    """
    if size < 2 or softness <= 0 or edge_width <= 0:
        raise ValueError(f"need size >= 2 and positive widths, got {size}, {softness}, {edge_width}")
    angle = math.radians(orientation)
    normal = torch.tensor([math.cos(angle), math.sin(angle)], dtype=torch.float64)
    tangent = torch.stack((-normal[1], normal[0]))
    truth = torch.full((2,), (size - 1) / 2, dtype=torch.float64)
    axis = torch.arange(size, dtype=torch.float64)
    pixels = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), dim=-1)  # [n, m] -> (x=m, y=n)
    distance = signed_distance(pixels, truth, normal, curvature)
    region = torch.sigmoid(distance / softness)
    edge = torch.exp(-distance.square() / (2 * edge_width**2))
    return Contour(torch.stack((region, edge))[None], truth, normal, tangent, curvature)


def loss_function(
    contour: Contour, loss: str, patch_size: int = 8, align_sigma: float | None = 1.0, heatmap_sigma: float = 1.5
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The loss of one prediction against the contour's truth, as a function of the prediction.

    Args:
        contour: from :func:`contour_patch`.
        loss: one of :data:`LOSSES`: ``"l2"`` (:func:`ffld.losses.l2_loss`), ``"l1"``
            (:func:`ffld.losses.l1_loss`), ``"heatmap_l2"`` (:func:`ffld.heatmaps.heatmap_l2_loss` on heat maps
            the size of the feature map) or ``"align"`` (:func:`ffld.losses.align_loss` on the contour's map).
        patch_size: Align Loss patch side (8, Sect. 3.2).
        align_sigma: σ of Align Loss's Gaussian filter G; ``None`` switches it off (Sect. 6.6).
        heatmap_sigma: σ of the heat-map Gaussians, in feature-map pixels.

    Returns:
        ``f(pred)`` mapping a (2,) prediction ``(x, y)`` in feature-map pixels to a scalar loss.
    """
    target = contour.truth[None, None]
    features = contour.features
    height, width = features.shape[-2:]
    functions = {
        "l2": lambda pred: l2_loss(pred[None, None], target),
        "l1": lambda pred: l1_loss(pred[None, None], target),
        "heatmap_l2": lambda pred: heatmap_l2_loss(pred[None, None], target, height, width, heatmap_sigma),
        "align": lambda pred: align_loss(features, pred[None, None], target, patch_size, align_sigma),
    }
    if loss not in functions:
        raise ValueError(f"unknown loss {loss!r}; choose one of {LOSSES}")
    return functions[loss]


def prediction_grid(radius: float = 12.0, step: float = 0.5) -> torch.Tensor:
    """Offsets from the truth at which the landscapes are evaluated: ``-radius..radius`` by ``step``.

    Returns:
        (K,) float64 offsets (the same along x and y).
    """
    count = round(2 * radius / step) + 1
    return torch.linspace(-radius, radius, count, dtype=torch.float64)


def landscape(contour: Contour, loss: str, offsets: torch.Tensor | None = None, **options: Any) -> torch.Tensor:
    """Loss value for every prediction ``truth + (offsets[j], offsets[i])`` (one panel of Fig. 6).

    Args:
        contour: from :func:`contour_patch`.
        loss: one of :data:`LOSSES`.
        offsets: (K,) offsets from :func:`prediction_grid` (its defaults if ``None``).
        **options: ``patch_size``, ``align_sigma``, ``heatmap_sigma`` of :func:`loss_function`.

    Returns:
        (K, K) float64 tensor; row i is the y offset ``offsets[i]``, column j the x offset ``offsets[j]``.
    """
    offsets = prediction_grid() if offsets is None else offsets.to(torch.float64)
    dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
    predictions = contour.truth + torch.stack((dx, dy), dim=-1).reshape(-1, 2)
    values = vmap(loss_function(contour, loss, **options))(predictions)
    return values.reshape(len(offsets), len(offsets))


def normalise(values: torch.Tensor) -> torch.Tensor:
    """Rescale to [0, 1] per image, as Fig. 6 does ("the loss values are normalized on each image")."""
    low, high = values.min(), values.max()
    return (values - low) / (high - low) if high > low else torch.zeros_like(values)


def anisotropy(contour: Contour, loss: str, distance: float = 1.0, **options: Any) -> float:
    """How much more a loss penalises an error across the boundary than the same error along it.

    Returns:
        ``mean(L(t ± d·n)) / mean(L(t ± d·τ))``: the mean loss at distance ``d`` from the truth ``t`` along the
        normal ``n`` over the mean loss at the same distance along the tangent ``τ``. 1 for an isotropic loss;
        infinite if the along-boundary loss is exactly 0.
    """
    function = loss_function(contour, loss, **options)
    across = [function(contour.truth + sign * distance * contour.normal) for sign in (1, -1)]
    along = [function(contour.truth + sign * distance * contour.tangent) for sign in (1, -1)]
    along_mean = (sum(along) / 2).item()
    return (sum(across) / 2).item() / along_mean if along_mean > 0 else math.inf


def profile(
    contour: Contour, loss: str, distances: torch.Tensor, direction: str = "across", **options: Any
) -> torch.Tensor:
    """A loss along a line through the truth: the mean of ``L(t + d·u)`` and ``L(t - d·u)`` for each distance d.

    Args:
        contour: from :func:`contour_patch`.
        loss: one of :data:`LOSSES`.
        distances: (D,) distances from the truth, in feature-map pixels.
        direction: ``"across"`` the boundary (``u`` = the normal n) or ``"along"`` it (``u`` = the tangent τ).
        **options: as for :func:`loss_function`.

    Returns:
        (D,) float64 tensor.
    """
    if direction not in ("across", "along"):
        raise ValueError(f"direction must be 'across' or 'along', got {direction!r}")
    function = vmap(loss_function(contour, loss, **options))
    unit = contour.normal if direction == "across" else contour.tangent
    offsets = distances.to(torch.float64)[:, None] * unit
    return (function(contour.truth + offsets) + function(contour.truth - offsets)) / 2


def far_growth(
    contour: Contour, loss: str, near: float = 8.0, far: float = 12.0, direction: str = "across", **options: Any
) -> float:
    """Relative growth of a loss between two distances from the truth: a measure of saturation.

    Args:
        contour: from :func:`contour_patch`.
        loss: one of :data:`LOSSES`.
        near, far: the two distances from the truth, in feature-map pixels.
        direction: as for :func:`profile`.
        **options: as for :func:`loss_function`.

    Returns:
        ``(L(far) - L(near)) / L(far)`` on the :func:`profile`: 0 for a loss that has saturated by ``near``;
        ``1 - (near/far)²`` for L2 and ``1 - near/far`` for L1, whatever the direction.
    """
    at_near, at_far = profile(contour, loss, torch.tensor([near, far]), direction, **options).tolist()
    return (at_far - at_near) / at_far


def half_height_distance(
    contour: Contour, loss: str, distances: torch.Tensor, direction: str = "across", **options: Any
) -> float:
    """Where a loss reaches half its value at the last distance: the half-width of its valley (Sect. 4.3).

    The first sample of the :func:`profile` at or above half of its last value, and linear interpolation between
    it and the sample before. For L2 (``d²``) it is ``D / √2`` and for L1 (``d``) ``D / 2`` with ``D`` the last
    distance, up to the interpolation; Align Loss's widens with its Gaussian filter.

    Args:
        contour: from :func:`contour_patch`.
        loss: one of :data:`LOSSES`.
        distances: (D,) increasing distances from the truth, in feature-map pixels, starting below half height.
        direction: as for :func:`profile`.
        **options: as for :func:`loss_function`.

    Returns:
        The distance, in feature-map pixels.
    """
    values = profile(contour, loss, distances, direction, **options).numpy()
    k = int(np.argmax(values >= values[-1] / 2))
    if k == 0:
        raise ValueError("the profile starts at or above half height: start the distances nearer the truth")
    return float(np.interp(values[-1] / 2, values[k - 1 : k + 1], distances.numpy()[k - 1 : k + 1]))


__all__ = [
    "LOSSES",
    "LOSS_TITLES",
    "Contour",
    "anisotropy",
    "contour_patch",
    "far_growth",
    "half_height_distance",
    "landscape",
    "loss_function",
    "normalise",
    "prediction_grid",
    "profile",
    "signed_distance",
]
