r"""Loss functions of the multi-loss training scheme (Sect. 4), plus Wing loss for comparison.

All coordinate losses take ``pred`` and ``target`` of shape (B, N, 2) (any consistent unit, usually image
pixels), sum over the landmarks of a sample as the equations do, and average over the batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ffld.crop import crop_patches


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape or pred.ndim != 3 or pred.shape[-1] != 2:
        raise ValueError(f"pred and target must both be (B, N, 2), got {tuple(pred.shape)} and {tuple(target.shape)}")


def iod_l2_loss(pred: torch.Tensor, target: torch.Tensor, iod: torch.Tensor) -> torch.Tensor:
    r"""IOD-normalised L2 loss, Eq. 1: :math:`L = \|S_{GT} - S_{Pred}\|_2^2 / d`.

    Args:
        pred, target: (B, N, 2) landmarks.
        iod: (B,) inter-ocular distance :math:`d` of each sample, in the unit of the landmarks.

    Returns:
        Scalar: the batch mean of the per-sample loss.
    """
    _check_pair(pred, target)
    if iod.shape != pred.shape[:1]:
        raise ValueError(f"iod must be (B,) = {tuple(pred.shape[:1])}, got {tuple(iod.shape)}")
    return ((pred - target).square().sum(dim=(1, 2)) / iod).mean()


def l2_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""L2 loss (Sect. 4.2): the squared error :math:`\|S_{GT} - S_{Pred}\|_2^2` over all 2N coordinates.

    Args:
        pred, target: (B, N, 2) landmarks.

    Returns:
        Scalar: the batch mean of the per-sample loss.
    """
    _check_pair(pred, target)
    return (pred - target).square().sum(dim=(1, 2)).mean()


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""L1 loss (Sect. 4.2): :math:`\|S_{GT} - S_{Pred}\|_1` over all 2N coordinates.

    Args:
        pred, target: (B, N, 2) landmarks.

    Returns:
        Scalar: the batch mean of the per-sample loss.
    """
    _check_pair(pred, target)
    return (pred - target).abs().sum(dim=(1, 2)).mean()


def wing_loss(pred: torch.Tensor, target: torch.Tensor, width: float = 10.0, curvature: float = 2.0) -> torch.Tensor:
    r"""Wing loss (Feng et al., CVPR 2018, Eq. 5), summed over all 2N coordinates.

    .. math::

        \mathrm{wing}(x) = \begin{cases} w \ln(1 + |x|/\epsilon) & |x| < w \\ |x| - C & \text{otherwise}
        \end{cases}, \qquad C = w - w \ln(1 + w/\epsilon),

    with :math:`w` = ``width`` and :math:`\epsilon` = ``curvature`` (Feng et al.'s defaults, 10 and 2, are for
    pixel units).

    Args:
        pred, target: (B, N, 2) landmarks.

    Returns:
        Scalar: the batch mean of the per-sample loss.
    """
    _check_pair(pred, target)
    if width <= 0 or curvature <= 0:
        raise ValueError(f"width and curvature must be positive, got {width} and {curvature}")
    error = (pred - target).abs()
    offset = width - width * math.log1p(width / curvature)
    loss = torch.where(error < width, width * torch.log1p(error / curvature), error - offset)
    return loss.sum(dim=(1, 2)).mean()


def gaussian_kernel(kernel_size: int = 3, sigma: float = 1.0) -> torch.Tensor:
    r"""The normalised 2-D Gaussian kernel :math:`G` of Align Loss (Sect. 4.3, 6.6: size 3, σ = 1).

    Returns:
        (kernel_size, kernel_size) float64 tensor summing to 1,
        :math:`G_{ij} \propto \exp(-(i^2 + j^2) / 2\sigma^2)` for offsets :math:`i, j` from the centre.
    """
    if kernel_size < 1 or kernel_size % 2 == 0 or sigma <= 0:
        raise ValueError(f"kernel_size must be odd and positive and sigma positive, got {kernel_size}, {sigma}")
    offsets = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) / 2
    profile = torch.exp(-offsets.square() / (2 * sigma**2))
    kernel = profile[:, None] * profile[None, :]
    return kernel / kernel.sum()


def _smooth(patches: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Filter every channel of (B, N, C, h, w) patches with a (k, k) kernel, zero padding, same size."""
    shape = patches.shape
    flat = patches.reshape(-1, 1, *shape[-2:])
    weight = kernel.to(patches)[None, None]
    return F.conv2d(flat, weight, padding=kernel.shape[-1] // 2).reshape(shape)


def align_loss(
    features: torch.Tensor,
    pred: torch.Tensor,
    target: torch.Tensor,
    size: int = 8,
    sigma: float | None = 1.0,
    kernel_size: int = 3,
) -> torch.Tensor:
    r"""Align Loss, Eq. 2: pixel-wise squared difference of filtered patches cropped at truth and prediction.

    .. math::

        L = \sum_{m=1}^{|P_{GT}|} \big\| (G * P_{GT})_m - (G * P_{S+\Delta S})_m \big\|_2^2

    summed over the landmarks of a sample (the norm runs over the channels of pixel :math:`m`) and averaged
    over the batch. Patches are cropped with :func:`ffld.crop.crop_patches`, so the loss is differentiable with
    respect to ``pred`` (and ``features``; pass detached features to let only the prediction move).

    Args:
        features: (B, C, H, W) feature maps the patches are cropped from.
        pred: (B, N, 2) predicted landmarks ``(x, y)`` in feature-map pixels.
        target: (B, N, 2) ground-truth landmarks in feature-map pixels.
        size: patch side.
        sigma: σ of the Gaussian filter :math:`G`; ``None`` switches the filter off (Sect. 6.6 drops it once the
            loss stops decreasing).
        kernel_size: side of :math:`G`.

    Returns:
        Scalar loss.
    """
    _check_pair(pred, target)
    truth = crop_patches(features, target, size)
    moved = crop_patches(features, pred, size)
    if sigma is not None:
        kernel = gaussian_kernel(kernel_size, sigma)
        truth, moved = _smooth(truth, kernel), _smooth(moved, kernel)
    return (truth - moved).square().sum(dim=(1, 2, 3, 4)).mean()


__all__ = ["align_loss", "gaussian_kernel", "iod_l2_loss", "l1_loss", "l2_loss", "wing_loss"]
