"""The multi-loss scheme, measured (Sect. 4, Table 5): small live training runs, and how hard each loss pulls on
small and large errors.

The paper assigns "loss functions sensitive to big errors" to the coarse stages and "loss functions more sensitive to
small errors" to the fine ones (Sect. 1's contributions; Sect. 4). What a loss does to an error is its gradient:
:func:`gradient_profile` moves the prediction of every landmark ``d`` image pixels across its boundary (the
direction that matters, Sect. 4.3) and returns each loss's mean *pull*, the component of its gradient with respect
to that prediction along the error's direction, as a function of ``d``, on the feature maps of a trained model.

The paper's Table 5 is :data:`ffld.paper.TABLE5_LOSSES`; its CPU-scale counterpart is a table of
``ffld experiment synthface-cpu`` (:func:`ffld.experiments.markdown_table`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ffld.geometry import image_to_feature
from ffld.losses import align_loss, l1_loss, l2_loss
from ffld.plotting import check_labelled
from ffld.train.config import TrainConfig, load_config


def small_config(
    losses: Sequence[str],
    output: str,
    epochs: int = 10,
    faces: int = 256,
    input_size: int = 96,
    seed: int = 0,
    root: str | None = None,
) -> TrainConfig:
    """A training run small enough to watch live on two CPU cores (about half a minute on idle cores).

    The built-in ``synthface-cpu`` config (3 stages, the paper's optimiser and augmentation) with: ``faces``
    training faces rendered at 128×128 and cropped to ``input_size``, 48 common test faces evaluated after every
    epoch, batches of 32, learning rate 1.5e-3 decayed ×0.3 after 7 epochs, trained from scratch (the paper trains
    the baseline first, Sect. 6.6; the committed models do). The engine's learning test trains this very config.

    Args:
        losses: one loss per prediction S0..S3, e.g. ``["iod_l2", "l2", "l1", "align"]``.
        output: the run folder.
        root: where SynthFace is cached (default: the ``synthface-cpu`` config's).
    """
    synthface = {"image_size": 128, "train": {"size": faces}, "common": {"size": 48}, "challenge": {"size": 0}}
    return load_config(
        "synthface-cpu",
        {
            **({"data.root": root} if root is not None else {}),
            "data.input_size": input_size,
            "data.synthface": synthface,
            "data.test": ["common"],
            "losses": list(losses),
            "optimizer.batch_size": 32,
            "optimizer.epochs": epochs,
            "optimizer.lr": 1.5e-3,
            "optimizer.lr_step": 7,
            "runtime.device": "cpu",
            "runtime.seed": seed,
            "runtime.eval_every": 1,
            "runtime.checkpoint_every": 0,
            "output": output,
        },
    )


def _align(features: torch.Tensor, stride: int, sigma: float | None) -> Callable[[torch.Tensor, torch.Tensor], Any]:
    def loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return align_loss(features, image_to_feature(pred, stride), image_to_feature(target, stride), sigma=sigma)

    return loss


def profile_losses(features: torch.Tensor, stride: int) -> dict[str, Callable[[torch.Tensor, torch.Tensor], Any]]:
    """The losses of the multi-loss scheme as functions of (pred, target) in image pixels: L2 and L1 (Sect. 4.2)
    and Align Loss on ``features`` (a level of stride ``stride``), with and without its Gaussian filter (Sect. 4.3).

    IOD-normalised L2 (Eq. 1) is L2 divided by a constant per face: its profile is L2's.

    Args:
        features: (B, C, H, W) one level's feature maps; stride: that level's stride in image pixels.

    Returns:
        name -> loss(pred, target), both (B, N, 2) in image pixels, returning a scalar tensor.
    """
    features = features.detach().float()
    return {
        "L2": l2_loss,
        "L1": l1_loss,
        "Align Loss (G, σ = 1)": _align(features, stride, 1.0),
        "Align Loss (no G)": _align(features, stride, None),
    }


def gradient_profile(
    losses: dict[str, Callable[[torch.Tensor, torch.Tensor], Any]],
    points: torch.Tensor,
    directions: torch.Tensor,
    distances: Sequence[float],
    visible: torch.Tensor | None = None,
) -> dict[str, np.ndarray]:
    """How hard each loss pulls a prediction ``d`` pixels from the truth back towards it.

    For every distance ``d``, every landmark's prediction is put at ``p = truth + d · u`` with ``u`` its direction
    (all landmarks at once; the losses sum over landmarks, so each landmark's gradient is its own). The *pull* is
    the component of :math:`\\partial L / \\partial p` (image pixels) along ``u``, the part of a gradient-descent
    step that reduces the error, averaged over the visible landmarks. A gradient pointing elsewhere (towards
    another boundary, say) averages out; a loss that saturates pulls with zero.

    Args:
        losses: name -> loss(pred, target), both (B, N, 2) in image pixels, averaged over the batch.
        points: (B, N, 2) ground truth, image pixels.
        directions: (B, N, 2) unit directions of the error (e.g. the boundary normals).
        distances: error sizes ``d`` in image pixels.
        visible: (B, N) landmarks to average over (default: all).

    Returns:
        name -> (len(distances),) mean pull.
    """
    points, directions = points.detach().float(), directions.detach().float()
    weight = (
        torch.ones(points.shape[:2], device=points.device) if visible is None else visible.float().to(points.device)
    )
    batch = points.shape[0]
    profiles = {}
    for name, loss in losses.items():
        values = []
        for distance in distances:
            pred = (points + distance * directions).requires_grad_(True)
            (gradient,) = torch.autograd.grad(loss(pred, points), pred)
            pull = (gradient * directions).sum(dim=-1) * batch  # undo the batch mean: one sample's loss
            values.append(float((pull * weight).sum() / weight.sum()))
        profiles[name] = np.asarray(values)
    return profiles


def profile_figure(distances: Sequence[float], profiles: dict[str, np.ndarray]) -> Figure:
    """The pull of :func:`gradient_profile` against the error, each loss scaled to its largest value (Sect. 4)."""
    figure, axes = plt.subplots(figsize=(6.4, 2.9), layout="constrained")
    for name, values in profiles.items():
        axes.plot(distances, values / values.max(), label=name, linewidth=1.5)
    axes.set(
        title="How hard each loss pulls on an error across the boundary",
        xlabel="error across the boundary (image px)",
        ylabel="pull / its maximum",
    )
    axes.legend(fontsize=7)
    return check_labelled(figure)


def training_figure(histories: dict[str, list[dict[str, Any]]], split: str = "common") -> Figure:
    """Training curves of live runs: each stage's training loss relative to its first epoch (first run), and the
    NME of S0 and of the last stage at every evaluated epoch (every run).

    Args:
        histories: run name -> the history :func:`ffld.train.train` returns (one row per epoch).
        split: the evaluated test split.
    """
    figure, (left, right) = plt.subplots(1, 2, figsize=(8.4, 2.9), layout="constrained")
    name, history = next(iter(histories.items()))
    epochs = [row["epoch"] for row in history]
    for key in [key for key in history[0] if key.startswith("train_S")]:
        values = np.array([row[key] for row in history])
        left.plot(epochs, values / values[0], marker=".", label=key.removeprefix("train_"))
    left.set_yscale("log")
    left.set(title=f"{name}: training loss per stage", xlabel="epoch", ylabel="loss / loss at epoch 1")
    left.legend(fontsize=7)
    for (name, history), colour in zip(histories.items(), ("tab:blue", "tab:red", "tab:green"), strict=False):
        evaluated = [row for row in history if f"{split}_nme_S0" in row]  # every runtime.eval_every epochs
        epochs = [row["epoch"] for row in evaluated]
        last = max(int(key.rsplit("S", 1)[1]) for key in evaluated[-1] if key.startswith(f"{split}_nme_S"))
        for stage, style in ((0, ":"), (last, "-")):
            values = [row[f"{split}_nme_S{stage}"] for row in evaluated]
            right.plot(epochs, values, style, color=colour, marker=".", label=f"{name}, S{stage}")
    right.set(title=f"NME on {split} test faces", xlabel="epoch", ylabel="NME (%, inter-ocular)")
    right.legend(fontsize=7)
    return check_labelled(figure)


__all__ = [
    "gradient_profile",
    "profile_figure",
    "profile_losses",
    "small_config",
    "training_figure",
]
