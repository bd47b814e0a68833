"""The multi-loss objective (Sect. 4): one loss per prediction S0..SK, summed with weights.

The paper assigns IOD-normalised L2 to the baseline S0 (Eq. 1), L2 to S1, L1 to S2 and Align Loss to S3 (Eq. 2);
any assignment can be configured for the Table 5 ablation. Coordinates are input-image pixels. Align Loss for
stage k compares patches of the level that stage k crops from (level 4 − k), cropped at the truth and at
:math:`S_k`; the feature maps are detached there, so the loss moves the prediction, not the features. The paper
shows such patches after channel selection (Fig. 5) but does not say which channels Align Loss compares; ffld
compares all channels of the level, detached: with live features, or with the learnt selection, the network could
lower the loss by flattening the patches instead of aligning them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ffld.geometry import LEVEL_STRIDES, image_to_feature
from ffld.losses import align_loss, iod_l2_loss, l1_loss, l2_loss, wing_loss
from ffld.models.network import FFLDOutput


@dataclass
class MultiLoss:
    """Weighted sum of per-stage losses.

    Attributes:
        losses: loss name of each prediction S0..SK ("iod_l2", "l2", "l1", "align", "wing").
        weights: weight of each.
        stage_levels: the feature level each refinement stage crops from (``FFLD.stage_levels``).
        patch_size: Align Loss patch side.
        align_sigma: σ of Align Loss's Gaussian filter, ``None`` once it is dropped (Sect. 6.6).
        align_kernel: side of that filter.
    """

    losses: list[str]
    weights: list[float]
    stage_levels: list[int]
    patch_size: int = 8
    align_sigma: float | None = 1.0
    align_kernel: int = 3

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.losses):
            raise ValueError(f"{len(self.losses)} losses but {len(self.weights)} weights: give one weight per loss")
        if len(self.stage_levels) != len(self.losses) - 1:
            raise ValueError(
                f"{len(self.losses)} losses (S0..S{len(self.losses) - 1}) need {len(self.losses) - 1} stage levels, "
                f"got {len(self.stage_levels)}"
            )
        if self.losses and self.losses[0] == "align":
            raise ValueError("Align Loss needs a refinement stage's feature level (Sect. 4.3); S0 has none")

    def stage_loss(self, stage: int, output: FFLDOutput, target: torch.Tensor, iod: torch.Tensor) -> torch.Tensor:
        """Loss of prediction ``stage`` (0 = S0) against (B, N, 2) ``target``; ``iod`` is (B,)."""
        name, pred = self.losses[stage], output.stages[stage]
        if name == "iod_l2":
            return iod_l2_loss(pred, target, iod)
        if name == "l2":
            return l2_loss(pred, target)
        if name == "l1":
            return l1_loss(pred, target)
        if name == "wing":
            return wing_loss(pred, target)
        if name == "align":
            level = self.stage_levels[stage - 1]
            stride = LEVEL_STRIDES[level]
            features = output.features[level - 1].detach().float()
            return align_loss(
                features,
                image_to_feature(pred, stride),
                image_to_feature(target, stride),
                size=self.patch_size,
                sigma=self.align_sigma,
                kernel_size=self.align_kernel,
            )
        raise ValueError(f"unknown loss {name!r}")

    def __call__(
        self, output: FFLDOutput, target: torch.Tensor, iod: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Returns ``(total, per_stage)``: the weighted sum and each stage's unweighted loss."""
        per_stage = [self.stage_loss(k, output, target, iod) for k in range(len(output.stages))]
        total = sum(w * loss for w, loss in zip(self.weights, per_stage, strict=True))
        return total, per_stage


__all__ = ["MultiLoss"]
