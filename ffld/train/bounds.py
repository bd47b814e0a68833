"""The ranges of a training config's numbers, checked when the config is read (before any data are prepared).

A value of the right type can still be meaningless: a learning rate of 0 (Adam would train nothing, Sect. 6.6), a
decay factor ``lr_gamma`` of 0 (the learning rate vanishes at the first step, Sect. 6.6), an Align Loss filter with
an even side or a σ ≤ 0 (Sect. 4.3), a flip probability above 1. Each problem names its key; without these checks
some stopped the run only after its data had been prepared or its first step taken, with a message that named no
key, and others (``lr: 0``, ``lr_gamma: 0``, ``align.patience: 0``) trained without a word.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ffld.data.registry import synthface_config
from ffld.data.synthetic import SPLITS, SplitConfig, SynthFaceConfig
from ffld.geometry import LEVEL_STRIDES
from ffld.models.backbone import ARCHITECTURES, layer_planes

if TYPE_CHECKING:
    from ffld.train.config import TrainConfig


def range_problems(config: TrainConfig) -> list[str]:
    """One ``"key: problem"`` for each value of ``config`` outside its range."""

    data, model, align, optim, augment = config.data, config.model, config.align, config.optimizer, config.augment
    checks = [
        (data.input_size >= 1, f"data.input_size: must be at least 1, got {data.input_size}"),
        (data.enlarge > 0, f"data.enlarge: must be > 0, got {data.enlarge}"),
        (model.backbone in ARCHITECTURES, f"model.backbone: {model.backbone!r} is not one of {sorted(ARCHITECTURES)}"),
        (
            min(layer_planes(model.width)) >= 1,
            f"model.width: must be > 1/128 (at least one channel in every layer), got {model.width}",
        ),
        (
            0 <= model.stages <= len(LEVEL_STRIDES),
            f"model.stages: must be 0 to {len(LEVEL_STRIDES)} (one refinement stage per feature level), "
            f"got {model.stages}",
        ),
        (model.patch_size >= 1, f"model.patch_size: must be at least 1, got {model.patch_size}"),
        (align.sigma > 0, f"align.sigma: must be > 0, got {align.sigma}"),
        (
            align.kernel_size >= 1 and align.kernel_size % 2 == 1,
            f"align.kernel_size: must be odd and positive, got {align.kernel_size}",
        ),
        (
            align.patience is None or align.patience >= 1,
            f"align.patience: must be at least 1 (or null to keep the filter), got {align.patience}",
        ),
        (optim.lr > 0, f"optimizer.lr: must be > 0, got {optim.lr}"),
        (optim.weight_decay >= 0, f"optimizer.weight_decay: must not be negative, got {optim.weight_decay}"),
        (optim.lr_gamma > 0, f"optimizer.lr_gamma: must be > 0, got {optim.lr_gamma}"),
        (0 <= augment.scale < 1, f"augment.scale: must be in [0, 1), got {augment.scale}"),
        (augment.translate >= 0, f"augment.translate: must not be negative, got {augment.translate}"),
        (augment.rotate >= 0, f"augment.rotate: must not be negative, got {augment.rotate}"),
        (0 <= augment.flip <= 1, f"augment.flip: must be a probability in [0, 1], got {augment.flip}"),
        (config.runtime.seed >= 0, f"runtime.seed: must not be negative, got {config.runtime.seed}"),
    ]
    problems = [problem for ok, problem in checks if not ok]
    if config.weights() and min(config.weights()) < 0:
        problems.append(f"loss_weights: must not be negative, got {config.loss_weights}")
    if data.dataset == "synthface":
        problems += synthface_problems(data.synthface)
    return problems


def synthface_problems(options: dict[str, Any]) -> list[str]:
    """The problems of ``data.synthface`` (SynthFace's generator settings): unknown keys, and values that the
    generator refuses."""

    known = {item.name for item in dataclasses.fields(SynthFaceConfig)}
    split_known = {item.name for item in dataclasses.fields(SplitConfig)}
    unknown = [f"data.synthface.{key}" for key in options if key not in known]
    for split in SPLITS:
        value = options.get(split)
        if value is not None and not isinstance(value, dict):
            return [f"data.synthface.{split}: expected a mapping, got {value!r}"]
        unknown += [f"data.synthface.{split}.{key}" for key in value or {} if key not in split_known]
    if unknown:
        return [f"unknown key(s) {', '.join(unknown)}"]
    try:
        synthface_config(options)
    except (TypeError, ValueError) as error:
        return [f"data.synthface: {error}"]
    return []


__all__ = ["range_problems", "synthface_problems"]
