r"""The three gradients that reach a low-level feature map in the first refinement stage (Sect. 5, Eq. 18).

With :math:`I` the feature map stage 1 crops (level 3), :math:`L_0` the baseline's loss on :math:`S_0` and
:math:`L_1` the first stage's loss on :math:`S_1 = S_0 + \Delta S_1`,

.. math::

    \nabla I = \underbrace{\frac{\partial L_1}{\partial V}\frac{\partial V}{\partial I}}_{\nabla_{low\_level}}
    + \underbrace{\frac{\partial L_1}{\partial S_0}\frac{\partial S_0}{\partial I}}_{\nabla_{crop\_location}}
    + \underbrace{\frac{\partial L_0}{\partial S_0}\frac{\partial S_0}{\partial I}}_{\nabla_{standard}}.
    \tag{18}

:func:`first_stage_gradients` measures each term separately with the model's own switches (the ones Table 6
ablates): ``grad_crop_location=False`` leaves only :math:`\nabla_{low\_level}` in :math:`\partial L_1/\partial I`,
``grad_low_level=False`` leaves only :math:`\nabla_{crop\_location}`, and :math:`\nabla_{standard}` is the
gradient of :math:`L_0` alone. ``total`` is the gradient of :math:`L_0 + L_1` with both switches on, so that
Eq. 18 can be checked: ``low_level + crop_location + standard == total``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ffld.losses import l2_loss
from ffld.models import FFLD

GRADIENTS = ("low_level", "crop_location", "standard", "total")
"""Keys of :func:`first_stage_gradients`' result."""

LossFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def first_stage_gradients(
    model: FFLD,
    images: torch.Tensor,
    target: torch.Tensor,
    base_loss: LossFunction = l2_loss,
    stage_loss: LossFunction = l2_loss,
) -> dict[str, torch.Tensor]:
    """Measure the three terms of Eq. 18 on the feature map cropped by the first refinement stage.

    The model's switches are restored afterwards; its train/eval mode is left as the caller set it (use
    ``eval()`` for gradients that do not depend on the batch, as in the book).

    Args:
        model: an :class:`~ffld.models.FFLD` with at least one refinement stage.
        images: (B, 3, H, W) input images in [0, 1].
        target: (B, N, 2) ground-truth landmarks in image pixels.
        base_loss: :math:`L_0` as a function ``(pred, target) -> scalar`` (Sect. 4.1 uses the IOD-normalised L2).
        stage_loss: :math:`L_1` (Sect. 4.2: L2).

    Returns:
        dict with keys :data:`GRADIENTS`, each a tensor shaped like the cropped level's feature map.
    """
    if not model.refinements:
        raise ValueError("the model has no refinement stage")
    level = model.stage_levels[0] - 1
    switches = (model.grad_low_level, model.grad_crop_location)

    def gradient(low_level: bool, crop_location: bool, use_base: bool, use_stage: bool) -> torch.Tensor:
        model.grad_low_level, model.grad_crop_location = low_level, crop_location
        output = model(images)
        loss = output.stages[0].new_zeros(())
        if use_base:
            loss = loss + base_loss(output.stages[0], target)
        if use_stage:
            loss = loss + stage_loss(output.stages[1], target)
        (grad,) = torch.autograd.grad(loss, output.features[level], allow_unused=True)
        return torch.zeros_like(output.features[level]) if grad is None else grad

    try:
        return {
            "low_level": gradient(True, False, use_base=False, use_stage=True),
            "crop_location": gradient(False, True, use_base=False, use_stage=True),
            "standard": gradient(True, True, use_base=True, use_stage=False),
            "total": gradient(True, True, use_base=True, use_stage=True),
        }
    finally:
        model.grad_low_level, model.grad_crop_location = switches


__all__ = ["GRADIENTS", "first_stage_gradients"]
