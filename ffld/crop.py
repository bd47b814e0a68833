r"""Bilinear feature-map crops with gradients to both the features and the crop locations (Sect. 3.2, 5).

A crop of size :math:`h \times w` centred at :math:`(x, y)` (feature-map pixels, Eq. 6–7) samples

.. math::

    V_{qp} = \sum_{n=0}^{H-1} \sum_{m=0}^{W-1} I_{nm}\, \max(0, 1-|y_q-n|)\, \max(0, 1-|x_p-m|),
    \qquad y_q = y - \tfrac{h-1}{2} + q,\quad x_p = x - \tfrac{w-1}{2} + p,    \tag{5}

so pixels outside the map count as zero. Two implementations share one signature:

- :func:`crop_patches` — the fast path, one :func:`torch.nn.functional.grid_sample` call; the model uses it.
- :func:`crop_patches_explicit` — a :class:`torch.autograd.Function` whose backward is written from Eq. 9
  (gradient to the features) and Eq. 11–14 (gradient to the locations); the book derives it.

**Integer coordinates.** Eq. 5 is continuous in :math:`x_p`, but its derivative jumps where :math:`x_p` is an
integer: the left derivative is :math:`I_{\cdot,k} - I_{\cdot,k-1}` and the right one
:math:`I_{\cdot,k+1} - I_{\cdot,k}`. Read literally at an integer, Eq. 12 (with :math:`\lceil x_p\rceil =
\lfloor x_p\rfloor`) gives 0, and Eq. 13–14 give :math:`y_d = y_u = 1`, counting the row twice. Both
implementations here use :math:`\lfloor x_p\rfloor + 1` in place of :math:`\lceil x_p\rceil`, which is the
same away from integers and yields the *right* derivative at an integer — the convention of ``grid_sample``'s
backward. The fast path first normalises locations to ``grid_sample``'s :math:`[-1, 1]` range and back, and
that round trip can land an exact integer a rounding error to either side, so at exact integers the fast path
may return either one-sided derivative. Away from integers the two implementations agree to rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sample_locations(points: torch.Tensor, size: int) -> torch.Tensor:
    """Sampling locations of the crops (Eq. 6–7).

    Args:
        points: (B, N, 2) crop centres ``(x, y)`` in feature-map pixels.
        size: patch side ``h = w``.

    Returns:
        (B, N, size, size, 2) locations ``(x_p, y_q)``; element ``[b, n, q, p]`` is
        ``(x - (size-1)/2 + p, y - (size-1)/2 + q)``.
    """
    offsets = torch.arange(size, dtype=points.dtype, device=points.device) - (size - 1) / 2
    x = points[:, :, None, None, 0] + offsets[None, None, None, :]
    y = points[:, :, None, None, 1] + offsets[None, None, :, None]
    x, y = torch.broadcast_tensors(x, y)
    return torch.stack((x, y), dim=-1)


def _check_inputs(features: torch.Tensor, points: torch.Tensor, size: int) -> None:
    if features.ndim != 4:
        raise ValueError(f"features must be (B, C, H, W), got shape {tuple(features.shape)}")
    if points.ndim != 3 or points.shape[-1] != 2 or points.shape[0] != features.shape[0]:
        raise ValueError(
            f"points must be (B, N, 2) with B={features.shape[0]} matching the features, got {tuple(points.shape)}"
        )
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")


def crop_patches(features: torch.Tensor, points: torch.Tensor, size: int = 8) -> torch.Tensor:
    """Crop bilinearly interpolated patches around points (Eq. 5–7), fast path on ``grid_sample``.

    Differentiable with respect to both ``features`` (Eq. 9) and ``points`` (Eq. 10–15). Half-precision
    features are cropped in float32 so that sub-pixel locations keep their precision under autocast.

    Args:
        features: (B, C, H, W) feature maps.
        points: (B, N, 2) crop centres ``(x, y)`` in feature-map pixels (pixel ``(n, m)`` centred at
            ``y = n, x = m``).
        size: patch side.

    Returns:
        (B, N, C, size, size) patches; zero where a sample falls outside the map.
    """
    _check_inputs(features, points, size)
    _, channels, height, width = features.shape
    num_points = points.shape[1]
    dtype = torch.promote_types(features.dtype, torch.float32)
    locations = sample_locations(points.to(dtype), size)
    # Pixel centre u -> (2u + 1) / W - 1 (align_corners=False). Scalars, not a tensor made from host data, so the
    # forward pass can be captured in a CUDA graph.
    doubled = 2 * locations + 1
    grid = torch.stack((doubled[..., 0] / width, doubled[..., 1] / height), dim=-1) - 1
    patches = F.grid_sample(
        features.to(dtype),
        grid.reshape(-1, num_points * size, size, 2),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )
    return patches.reshape(-1, channels, num_points, size, size).transpose(1, 2)


def _neighbours(features: torch.Tensor, locations: torch.Tensor):
    """The four neighbours of every sample location and their bilinear weights.

    Args:
        features: (B, C, H, W).
        locations: (B, N, h, w, 2) sample locations ``(x_p, y_q)``.

    Returns:
        ``values``: dict corner -> (B, N, C, h, w) feature values (zero outside the map) at corners
        ``"00" = (⌊y⌋, ⌊x⌋)``, ``"01" = (⌊y⌋, ⌊x⌋+1)``, ``"10" = (⌊y⌋+1, ⌊x⌋)``, ``"11" = (⌊y⌋+1, ⌊x⌋+1)``;
        ``index``: dict corner -> (B, N, h, w) flat index into H·W (clamped) ; ``inside``: dict corner -> bool
        mask; ``frac``: (ax, ay), each (B, N, h, w), the fractional parts ``x - ⌊x⌋`` and ``y - ⌊y⌋``.
    """
    batch, channels, height, width = features.shape
    x, y = locations.unbind(-1)
    x0, y0 = x.floor(), y.floor()
    frac = (x - x0, y - y0)
    x0, y0 = x0.long(), y0.long()
    flat = features.reshape(batch, channels, height * width)
    values, index, inside = {}, {}, {}
    for corner, (dy, dx) in {"00": (0, 0), "01": (0, 1), "10": (1, 0), "11": (1, 1)}.items():
        yy, xx = y0 + dy, x0 + dx
        inside[corner] = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
        index[corner] = (yy.clamp(0, height - 1) * width + xx.clamp(0, width - 1)).detach()
        gathered = flat.gather(2, index[corner].reshape(batch, 1, -1).expand(-1, channels, -1))
        gathered = gathered.reshape(batch, channels, *index[corner].shape[1:]).transpose(1, 2)
        values[corner] = gathered * inside[corner][:, :, None].to(features.dtype)
    return values, index, inside, frac


class _ExplicitCrop(torch.autograd.Function):
    """Eq. 5 forward; Eq. 9 and Eq. 12–14 backward (with ⌊x⌋+1 for ⌈x⌉, see the module docstring)."""

    @staticmethod
    def forward(ctx, features: torch.Tensor, points: torch.Tensor, size: int) -> torch.Tensor:
        locations = sample_locations(points, size)
        values, _, _, (ax, ay) = _neighbours(features, locations)
        ax, ay = ax[:, :, None], ay[:, :, None]
        ctx.save_for_backward(features, locations)
        return (
            values["00"] * (1 - ay) * (1 - ax)
            + values["01"] * (1 - ay) * ax
            + values["10"] * ay * (1 - ax)
            + values["11"] * ay * ax
        )

    @staticmethod
    def backward(ctx, grad_patches: torch.Tensor):
        features, locations = ctx.saved_tensors
        values, index, inside, (ax, ay) = _neighbours(features, locations)
        ax, ay = ax[:, :, None], ay[:, :, None]
        grad_features = grad_points = None
        if ctx.needs_input_grad[0]:
            # Eq. 9: dL/dI_nm = sum_{q,p} dL/dV_qp · max(0, 1-|y_q-n|) · max(0, 1-|x_p-m|), i.e. each patch
            # gradient is re-projected onto its four neighbours with the bilinear weights.
            batch, channels, height, width = features.shape
            weights = {"00": (1 - ay) * (1 - ax), "01": (1 - ay) * ax, "10": ay * (1 - ax), "11": ay * ax}
            grad_flat = torch.zeros(batch, channels, height * width, dtype=features.dtype, device=features.device)
            for corner, weight in weights.items():
                contribution = grad_patches * weight * inside[corner][:, :, None].to(features.dtype)
                grad_flat.scatter_add_(
                    2,
                    index[corner].reshape(batch, 1, -1).expand(-1, channels, -1),
                    contribution.transpose(1, 2).reshape(batch, channels, -1),
                )
            grad_features = grad_flat.reshape_as(features)
        if ctx.needs_input_grad[1]:
            # Eq. 12: dV/dx_p = -I_{⌊y⌋⌊x⌋} y_d + I_{⌊y⌋,⌊x⌋+1} y_d - I_{⌊y⌋+1,⌊x⌋} y_u + I_{⌊y⌋+1,⌊x⌋+1} y_u
            # with y_d = 1 - (y_q - ⌊y_q⌋) and y_u = y_q - ⌊y_q⌋ (Eq. 13–14); dV/dy_q likewise. Every sample of
            # a patch moves with its centre (Eq. 6–7), so dV/dx = dV/dx_p, summed over the patch and channels.
            dv_dx = (1 - ay) * (values["01"] - values["00"]) + ay * (values["11"] - values["10"])
            dv_dy = (1 - ax) * (values["10"] - values["00"]) + ax * (values["11"] - values["01"])
            grad_points = torch.stack(
                ((grad_patches * dv_dx).sum(dim=(2, 3, 4)), (grad_patches * dv_dy).sum(dim=(2, 3, 4))), dim=-1
            )
        return grad_features, grad_points, None


def crop_patches_explicit(features: torch.Tensor, points: torch.Tensor, size: int = 8) -> torch.Tensor:
    """Same as :func:`crop_patches`, with the backward pass written out from Eq. 9 and Eq. 11–14.

    Args:
        features: (B, C, H, W) feature maps.
        points: (B, N, 2) crop centres ``(x, y)`` in feature-map pixels.
        size: patch side.

    Returns:
        (B, N, C, size, size) patches.
    """
    _check_inputs(features, points, size)
    dtype = torch.promote_types(features.dtype, torch.float32)  # as crop_patches: half precision cropped in float32
    return _ExplicitCrop.apply(features.to(dtype), points.to(dtype), size)


__all__ = ["crop_patches", "crop_patches_explicit", "sample_locations"]
