"""The training recipe of Sect. 6.6 as ffld's built-in configs: a side-by-side table, the learning-rate schedule,
and what the runtime settings resolve to on a given device.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ffld.tables import markdown
from ffld.train.config import TrainConfig, load_config
from ffld.train.engine import resolve_flag

RECIPE_FIELDS = {
    "dataset": lambda c: c.data.dataset,
    "input": lambda c: f"{c.data.input_size}×{c.data.input_size}",
    "stages": lambda c: str(c.model.stages),
    "losses": lambda c: "/".join(c.losses),
    "starts from": lambda c: c.init.split("/")[-2] if c.init else "scratch",
    "epochs": lambda c: str(c.optimizer.epochs),
    "lr": lambda c: f"{c.optimizer.lr:g}",
    "decay": lambda c: f"×{c.optimizer.lr_gamma:g} / {c.optimizer.lr_step} ep.",
    "batch": lambda c: str(c.optimizer.batch_size),
    "weight decay": lambda c: f"{c.optimizer.weight_decay:g}",
    "AL filter": lambda c: (
        f"{c.align.kernel_size}×{c.align.kernel_size}, σ {c.align.sigma:g}, patience {c.align.patience}"
        if "align" in c.losses
        else "–"
    ),
}
"""Rows of :func:`recipe_table`: what each config says about the recipe."""


def recipe_table(names: Sequence[str]) -> str:
    """A Markdown table of built-in configs side by side (one column each, one row per :data:`RECIPE_FIELDS`)."""
    configs = [load_config(name) for name in names]
    rows = [[field, *(read(config) for config in configs)] for field, read in RECIPE_FIELDS.items()]
    return markdown(["", *(f"`{name}`" for name in names)], rows)


def lr_schedule(config: TrainConfig) -> np.ndarray:
    """The learning rate of each epoch (``StepLR``: ``lr · gamma^⌊epoch / lr_step⌋``), checked against PyTorch's."""
    optim = config.optimizer
    epochs = np.arange(optim.epochs)
    rates = optim.lr * optim.lr_gamma ** (epochs // optim.lr_step)
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([parameter], lr=optim.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, optim.lr_step, optim.lr_gamma)
    reference = []
    for _ in epochs:
        reference.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    if not np.allclose(rates, reference, rtol=1e-12, atol=0):
        raise AssertionError("the schedule differs from torch.optim.lr_scheduler.StepLR")
    return rates


def runtime_flags(config: TrainConfig, device: str, processes: int = 1) -> dict[str, Any]:
    """What the trainer does with ``config.runtime`` on ``device`` ("cpu" or "cuda") with ``processes`` processes:
    bf16 autocast, channels-last, SyncBatchNorm, ``torch.compile`` (the same rules as the trainer's)."""
    runtime = config.runtime
    where = torch.device(device)
    return {
        "bf16 autocast": resolve_flag(runtime.bf16, where),
        "channels_last": resolve_flag(runtime.channels_last, where),
        "SyncBatchNorm": bool(runtime.sync_batchnorm and processes > 1),
        "torch.compile": bool(runtime.compile),
        "batch per process": config.optimizer.batch_size // processes,
    }


__all__ = ["RECIPE_FIELDS", "lr_schedule", "recipe_table", "runtime_flags"]
