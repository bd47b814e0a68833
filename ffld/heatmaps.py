r"""Heat-map regression (HRM) pieces, for comparison with FFLD's coordinate regression (Sect. 1, Fig. 6 (d)).

FFLD is a coordinate-regression model and trains no heat maps; the book uses these functions to show the two
properties of HRMs the paper builds on:

- **Quantisation** (Sect. 1, "local imprecision of HRMs"): a landmark read off as the arg-max of a heat map is
  an integer pixel of a map typically 4× smaller than the image (:func:`heatmap_argmax`).
- **A robust spatial loss** (Sect. 1, 4.2): the pixel-wise L2 distance between a predicted and a target heat map
  (:func:`heatmap_l2_loss`) saturates once the two Gaussians stop overlapping.

Heat maps are unnormalised Gaussians :math:`h_{nm} = \exp(-((m-x)^2 + (n-y)^2) / 2\sigma^2)` on the pixel grid,
with the library's convention that pixel ``(n, m)`` has its centre at ``y = n, x = m``.
"""

from __future__ import annotations

import torch


def gaussian_heatmap(points: torch.Tensor, height: int, width: int, sigma: float = 1.0) -> torch.Tensor:
    """Render one Gaussian heat map per point.

    Args:
        points: (..., 2) centres ``(x, y)`` in heat-map pixels (may be fractional).
        height, width: heat-map size.
        sigma: standard deviation of the Gaussian, in heat-map pixels.

    Returns:
        (..., height, width) heat maps with peak value 1 at the (possibly sub-pixel) centre.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    if points.shape[-1] != 2:
        raise ValueError(f"points must be (..., 2), got {tuple(points.shape)}")
    columns = torch.arange(width, dtype=points.dtype, device=points.device)
    rows = torch.arange(height, dtype=points.dtype, device=points.device)
    dx = columns - points[..., 0:1]  # (..., W)
    dy = rows - points[..., 1:2]  # (..., H)
    return torch.exp(-(dy[..., :, None].square() + dx[..., None, :].square()) / (2 * sigma**2))


def heatmap_l2_loss(
    pred: torch.Tensor, target: torch.Tensor, height: int, width: int, sigma: float = 1.0
) -> torch.Tensor:
    r"""Heat-map L2 loss: :math:`\sum_{n,m} (h^{pred}_{nm} - h^{GT}_{nm})^2`, summed over landmarks, batch mean.

    The loss of an HRM whose output heat maps are Gaussians at ``pred``: it is what Fig. 6 (d) plots. Far from
    the truth it saturates at :math:`2\sum h^2 \approx 2\pi\sigma^2` (the two Gaussians no longer overlap).

    Args:
        pred, target: (B, N, 2) landmarks ``(x, y)`` in heat-map pixels.
        height, width: heat-map size.
        sigma: Gaussian σ in heat-map pixels.

    Returns:
        Scalar loss.
    """
    if pred.shape != target.shape or pred.ndim != 3 or pred.shape[-1] != 2:
        raise ValueError(f"pred and target must both be (B, N, 2), got {tuple(pred.shape)} and {tuple(target.shape)}")
    difference = gaussian_heatmap(pred, height, width, sigma) - gaussian_heatmap(target, height, width, sigma)
    return difference.square().sum(dim=(1, 2, 3)).mean()


def heatmap_argmax(heatmaps: torch.Tensor) -> torch.Tensor:
    """Decode heat maps the usual HRM way: the integer position of each map's maximum.

    Args:
        heatmaps: (..., H, W).

    Returns:
        (..., 2) integer-valued ``(x, y)`` in heat-map pixels (same dtype as ``heatmaps``).
    """
    width = heatmaps.shape[-1]
    index = heatmaps.flatten(-2).argmax(dim=-1)
    return torch.stack((index % width, index // width), dim=-1).to(heatmaps.dtype)


def quantisation_error(points: torch.Tensor, stride: int, sigma: float = 1.0) -> torch.Tensor:
    """Image-pixel error of an *ideal* HRM: a perfect Gaussian heat map at stride ``stride``, decoded by arg-max.

    Args:
        points: (P, 2) landmarks ``(x, y)`` in image pixels.
        stride: heat-map stride with respect to the image (4 for most HRMs, Sect. 1).
        sigma: Gaussian σ in heat-map pixels.

    Returns:
        (P,) Euclidean distances, in image pixels, between each point and its decoded position.
    """
    if points.ndim != 2 or points.shape[-1] != 2:
        raise ValueError(f"points must be (P, 2), got {tuple(points.shape)}")
    on_map = points / stride
    # A Gaussian peaks at the pixel nearest to its centre, so a 5x5 window around it holds the arg-max of the
    # whole map; rendering only the window keeps memory at 25 values per point.
    origin = on_map.floor() - 2
    decoded = heatmap_argmax(gaussian_heatmap(on_map - origin, 5, 5, sigma)) + origin
    return (decoded * stride - points).norm(dim=-1)


__all__ = ["gaussian_heatmap", "heatmap_argmax", "heatmap_l2_loss", "quantisation_error"]
