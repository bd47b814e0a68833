"""Image pixel coordinates ↔ feature-map pixel coordinates of each backbone level.

Convention (used throughout ffld): a point is ``(x, y)`` in 0-based pixel coordinates, the centre of the
top-left pixel being ``(0, 0)``; feature-map pixel ``(n, m)`` (row, column) has its centre at ``y = n, x = m``
(Sect. 5.1, Eq. 5–7).

Every strided layer of the ResNet stem and of ``layer2`` (7×7 conv, stride 2, padding 3; 3×3 max-pool,
stride 2, padding 1; 3×3 conv, stride 2, padding 1; 1×1 conv, stride 2, padding 0) maps output pixel ``j`` to an
input window centred on input pixel ``2j``. Composed, the receptive field of pixel ``j`` of a level with
stride ``s`` is centred on image pixel ``s·j``, so

    u = x / s,   x = s · u

with no offset. The levels used for cropping (Sect. 3.2, Fig. 1) are

    level 1: stem output (conv1/BN/ReLU), stride 2
    level 2: layer1,                     stride 4
    level 3: layer2,                     stride 8
"""

from __future__ import annotations

import torch

LEVEL_STRIDES: dict[int, int] = {1: 2, 2: 4, 3: 8}
"""Stride of each feature level with respect to the input image."""


def image_to_feature(points: torch.Tensor, stride: int, inverse: bool = False) -> torch.Tensor:
    """Map points between image pixels and the pixels of a feature map with the given stride.

    Args:
        points: (..., 2) tensor of ``(x, y)`` coordinates, image pixels (or feature-map pixels with
            ``inverse=True``).
        stride: the level's stride, e.g. ``LEVEL_STRIDES[level]``.
        inverse: map feature-map pixels back to image pixels instead.

    Returns:
        (..., 2) tensor: ``points / stride`` (or ``points * stride`` with ``inverse=True``).
    """
    if stride <= 0:
        raise ValueError(f"stride must be positive, got {stride}")
    return points * stride if inverse else points / stride


__all__ = ["LEVEL_STRIDES", "image_to_feature"]
