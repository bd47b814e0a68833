"""The anatomy of FFLD: shapes through the network (Fig. 4), parameters per part (Table 7, Sect. 6.5) and the
channel-selected patches a CropNet sees (Fig. 5).

- :func:`shape_trace` follows one image through the baseline and every refinement stage, step by step, and checks
  that the steps recompose the model's own output;
- :func:`parameter_parts` counts the parameters of every part of a model, and :func:`table7_parameters` /
  :func:`selection_parameters` give the same counts in closed form from the layer sizes of Table 7, so that the
  paper's "1.46M parameters" can be solved for the number of landmarks N;
- :func:`selected_patches` returns the patches after the 1×1 channel selection, cropped where the model crops
  them (at :math:`S_{k-1}`), and :func:`selection_figure` draws them as Fig. 5 does; :func:`selection_contrast`
  measures how much the selected channels follow the boundaries, against random channel mixtures;
- :func:`refined_from_baseline` builds the 3-stage model from a trained baseline, with zero or random CropNet FC
  layers (Sect. 6.6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ffld.checkpoint import load_weights_from
from ffld.crop import crop_patches
from ffld.featuremaps import BoundaryFaces, boundary_response
from ffld.geometry import image_to_feature
from ffld.models import FFLD
from ffld.plotting import check_labelled


@dataclass(frozen=True)
class ShapeStep:
    """One step of :func:`shape_trace`.

    Attributes:
        part: "baseline" or "stage k".
        step: what happens (e.g. "crop 8×8 around S0").
        shape: the output's shape, batch first.
        note: the shape in the paper's notation (e.g. "8×8×32N").
    """

    part: str
    step: str
    shape: tuple[int, ...]
    note: str = ""

    def line(self) -> str:
        """One printable line."""
        shape = "(" + ", ".join(str(n) for n in self.shape) + ")"
        return f"{self.part:<9} {self.step:<34} {shape:<22} {self.note}".rstrip()


def _hwc(tensor: torch.Tensor) -> str:
    return f"{tensor.shape[-2]}×{tensor.shape[-1]}×{tensor.shape[-3]}"


@torch.no_grad()
def shape_trace(model: FFLD, image_size: int = 224) -> list[ShapeStep]:
    """Follow one ``image_size``² image through ``model`` (eval mode) and record the shape after every step.

    The refinement stages are run step by step (crop, channel selection, the layers of Table 7); the function
    checks that their corrections equal the model's own ``deltas``.
    """
    model.eval()
    images = torch.rand(1, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
    output = model(images)
    n = model.num_landmarks
    steps = [ShapeStep("baseline", "input", tuple(images.shape), f"{image_size}×{image_size}×3")]
    names = {1: "level 1 (conv1, stride 2)", 2: "level 2 (layer1, stride 4)", 3: "level 3 (layer2, stride 8)"}
    for level, features in enumerate(output.features, start=1):
        steps.append(ShapeStep("baseline", names[level], tuple(features.shape), _hwc(features)))
    pooled, _ = model.backbone((images - model.mean) / model.std)
    steps.append(ShapeStep("baseline", "layer3, layer4, global pooling", tuple(pooled.shape), f"1×1×{pooled.shape[1]}"))
    steps.append(ShapeStep("baseline", "FC -> S0 (x, y per landmark)", tuple(output.stages[0].shape), f"2N = {2 * n}"))
    for k, (level, stage) in enumerate(zip(model.stage_levels, model.refinements, strict=True), start=1):
        part = f"stage {k}"
        features, previous = output.features[level - 1], output.stages[k - 1]
        size = stage.patch_size
        crops = crop_patches(features, image_to_feature(previous, stage.stride), size)
        channels = crops.shape[2]
        steps.append(ShapeStep(part, f"crop {size}×{size} of level {level} at S{k - 1}", tuple(crops.shape)))
        steps.append(ShapeStep(part, "  concatenated", (1, n * channels, size, size), f"{size}×{size}×{channels}N"))
        selected = stage.crop(features, previous)
        picked = selected.shape[2]
        steps.append(ShapeStep(part, f"1×1 channel selection {channels}->{picked}", tuple(selected.shape)))
        hidden = selected.flatten(1, 2)
        steps.append(ShapeStep(part, "  concatenated", tuple(hidden.shape), f"{size}×{size}×{picked}N"))
        cropnet = stage.cropnet
        for name, layer in (
            ("Batch Norm", cropnet.norm),
            ("ResNet block", cropnet.block),
            ("Max-pooling", cropnet.pool),
        ):
            hidden = layer(hidden)
            steps.append(ShapeStep(part, f"CropNet: {name}", tuple(hidden.shape), _hwc(hidden)))
        delta = cropnet.fc(hidden.flatten(1))
        steps.append(ShapeStep(part, "CropNet: FC", tuple(delta.shape), f"2N = {2 * n}"))
        delta = delta.reshape(1, n, 2) * stage.stride
        if not torch.allclose(delta, output.deltas[k - 1], atol=1e-5):
            raise AssertionError(f"stage {k}: the traced steps do not recompose the model's correction")
        steps.append(ShapeStep(part, f"×{stage.stride} -> ΔS{k}; S{k} = S{k - 1} + ΔS{k}", tuple(delta.shape)))
    return steps


def _count(module: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def parameter_parts(model: FFLD) -> dict[str, int]:
    """Parameters of every part of ``model``: the backbone, its FC head, and per stage the channel selection and the
    layers of Table 7 (the max-pooling has none). The values sum to the model's count."""
    backbone = model.backbone
    name = f"backbone ({backbone.width:.0%} {backbone.architecture.replace('resnet', 'ResNet')})"
    parts = {name: _count(backbone), "FC head -> S0": _count(model.head)}
    for k, stage in enumerate(model.refinements, start=1):
        cropnet = stage.cropnet
        parts[f"stage {k}: 1×1 channel selection"] = _count(stage.select)
        parts[f"stage {k}: CropNet Batch Norm"] = _count(cropnet.norm)
        parts[f"stage {k}: CropNet ResNet block"] = _count(cropnet.block)
        parts[f"stage {k}: CropNet FC"] = _count(cropnet.fc)
    if sum(parts.values()) != _count(model):
        raise AssertionError("the parts do not add up to the model's parameters")
    return parts


def table7_parameters(num_landmarks: int, selected: int = 4, hidden: int = 128) -> dict[str, int]:
    """Parameters of one CropNet in closed form, layer by layer of Table 7.

    - Batch Norm on 4N channels: a scale and a shift per channel, 2·4N;
    - ResNet block 4N→128 (He et al., 2016, with a 1×1 projection shortcut since 4N ≠ 128): two 3×3 convolutions
      without bias, 4N·128·9 + 128·128·9, a 1×1 projection 4N·128, and three Batch Norms of 128 channels, 3·2·128;
    - Max-pooling: none;
    - FC 128→2N: 128·2N weights and 2N biases.
    """
    channels = selected * num_landmarks
    return {
        "Batch Norm": 2 * channels,
        "ResNet block": channels * hidden * 9 + hidden * hidden * 9 + channels * hidden + 3 * 2 * hidden,
        "Max-pooling": 0,
        "FC": hidden * 2 * num_landmarks + 2 * num_landmarks,
    }


SELECTION_MODES = ("shared", "per landmark", "full")
"""Readings of "a linear 1×1 convolutional layer" reducing 32N channels to 4N (Sect. 3.2): one C→4 convolution
shared by the landmarks (ffld), one C→4 convolution per landmark, or one convolution from all CN channels to 4N."""


def selection_parameters(channels: int, num_landmarks: int, mode: str = "shared", selected: int = 4) -> int:
    """Weights of one stage's bias-free channel selection on a level with ``channels`` channels (see
    :data:`SELECTION_MODES`)."""
    if mode == "shared":
        return channels * selected
    if mode == "per landmark":
        return num_landmarks * channels * selected
    if mode == "full":
        return (num_landmarks * channels) * (num_landmarks * selected)
    raise ValueError(f"unknown selection mode {mode!r}; choose one of {SELECTION_MODES}")


def closed_form_parts(
    num_landmarks: int, backbone: int, level_channels: tuple[int, ...] = (32, 16, 16), mode: str = "shared"
) -> dict[str, int]:
    """The 3-stage model's parameters by part, in closed form.

    Args:
        num_landmarks: N.
        backbone: the backbone's count (it does not depend on N; :func:`parameter_parts` counts it).
        level_channels: channels of the level each stage crops, stage 1 first (levels 3, 2, 1 of ResNet18 at 25%).
        mode: the reading of the channel selection (:data:`SELECTION_MODES`).

    Returns:
        ``{"baseline": backbone + FC head 128→2N, "channel selection": ..., "CropNets": ...}``.
    """
    cropnet = sum(table7_parameters(num_landmarks).values())
    return {
        "baseline": backbone + 128 * 2 * num_landmarks + 2 * num_landmarks,
        "channel selection": sum(selection_parameters(c, num_landmarks, mode) for c in level_channels),
        "CropNets": len(level_channels) * cropnet,
    }


def parameters_in_closed_form(
    num_landmarks: int, backbone: int, level_channels: tuple[int, ...] = (32, 16, 16), mode: str = "shared"
) -> int:
    """The total of :func:`closed_form_parts`."""
    return sum(closed_form_parts(num_landmarks, backbone, level_channels, mode).values())


@torch.no_grad()
def selected_patches(model: FFLD, images: torch.Tensor, stage: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The patches stage ``stage`` (1..K) feeds its CropNet, after channel selection (Fig. 5).

    Args:
        model: the network (put in eval mode).
        images: (B, 3, S, S) RGB in [0, 1].
        stage: the refinement stage, 1..K.

    Returns:
        ``(patches, centres)``: (B, N, 4, s, s) selected patches cropped at :math:`S_{stage-1}` as in the forward
        pass, and the (B, N, 2) crop centres in image pixels.
    """
    model.eval()
    output = model(images)
    level = model.stage_levels[stage - 1]
    centres = output.stages[stage - 1]
    return model.refinements[stage - 1].crop(output.features[level - 1], centres), centres


def selection_contrast(
    model: FFLD, faces: BoundaryFaces, groups: dict[str, Sequence[int]], mixtures: int, rng: np.random.Generator
) -> dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]]:
    """Across/along-boundary ratio (:func:`ffld.featuremaps.boundary_response`) of each stage's selected channels,
    beside random 1×1 mixtures of the same level's channels (the control).

    The selection is a 1×1 convolution, so it is applied to the whole level map (cropping and selecting commute).

    Args:
        model: a trained FFLD.
        faces: test faces with their boundaries.
        groups: name -> landmark indices measured together (e.g. the jaw, the eyes); visible ones only.
        mixtures: number of random mixtures per stage, drawn from ``rng`` (standard normal weights).

    Returns:
        ``(stage k, group) -> (learnt, random)``: (4,) ratios of the selected channels and (mixtures,) of the
        random mixtures.
    """
    with torch.no_grad():
        features = model(faces.images).features
    contrast = {}
    for k, stage in enumerate(model.refinements, start=1):
        maps = features[model.stage_levels[k - 1] - 1]
        randoms = torch.from_numpy(rng.normal(size=(mixtures, maps.shape[1]))).float()
        for group, members in groups.items():
            keep = faces.visible.clone()
            keep[:, [i for i in range(model.num_landmarks) if i not in members]] = False
            args = (stage.stride, faces.points, faces.tangents, keep)
            learnt = boundary_response(stage.select(maps), *args).ratio
            random = boundary_response(torch.einsum("kc,bchw->bkhw", randoms, maps), *args).ratio
            contrast[k, group] = (learnt, random)
    return contrast


def refined_from_baseline(baseline: FFLD, random_fc: bool = False, seed: int = 0) -> FFLD:
    """The 3-stage model at the start of step 2 of Sect. 6.6: a trained baseline's weights and new refinement
    stages, whose CropNet FC layers are zero (ffld's initialisation, so that S3 = S0) or, with ``random_fc``,
    ``nn.Linear``'s default initialisation.

    Args:
        baseline: a trained baseline (``stages=0``) of the default architecture.
        random_fc: re-initialise the CropNets' FC layers at random.
        seed: torch seed for the new stages.

    Returns:
        The model, in eval mode.
    """
    torch.manual_seed(seed)
    refined = FFLD(num_landmarks=baseline.num_landmarks).eval()
    load_weights_from(refined, baseline.state_dict(), "the baseline")  # the CropNets are new
    if random_fc:
        for stage in refined.refinements:
            stage.cropnet.fc.reset_parameters()
    return refined


def selection_figure(patches: torch.Tensor, labels: list[str], colours: list[str], stage: int, stride: int) -> Figure:
    """Fig. 5: one row per landmark, one column per selected channel; row labels coloured by group.

    Args:
        patches: (R, 4, s, s) selected patches of R landmarks.
        labels: R row labels (e.g. "jaw 4").
        colours: R colours (the paper: red for the face contour, blue for the eye contour).
        stage, stride: where the patches come from, for the title.
    """
    rows, columns, size, _ = patches.shape
    figure, axes = plt.subplots(
        rows, columns, figsize=(1.25 * columns, 1.2 * rows + 0.3), squeeze=False, layout="constrained"
    )
    for row in range(rows):
        for column in range(columns):
            panel = axes[row, column]
            values = patches[row, column].numpy()
            limit = float(np.abs(values).max()) or 1.0
            panel.imshow(values, cmap="coolwarm", vmin=-limit, vmax=limit)
            panel.set_title(f"{labels[row]}, ch {column + 1}", color=colours[row], fontsize=7)
            panel.set_axis_off()
    figure.suptitle(f"stage {stage}: {size}×{size} patches at stride {stride} ({size * stride} image px)", fontsize=8)
    return check_labelled(figure)


def support_figure(
    image: torch.Tensor,
    landmarks: torch.Tensor,
    centres: list[torch.Tensor],
    index: int,
    strides: list[int],
    size: int = 8,
) -> Figure:
    """The support of each stage's patch on the input image around one landmark (Sect. 3.2, Fig. 4).

    Args:
        image: (3, S, S) input in [0, 1].
        landmarks: (N, 2) ground truth in image pixels.
        centres: [S0, S1, ...] (N, 2) crop centres of stages 1, 2, ... in image pixels.
        index: the landmark.
        strides: the stride of each stage's level.
        size: patch side in feature-map pixels.
    """
    from matplotlib.patches import Rectangle

    figure, axes = plt.subplots(figsize=(3.6, 3.6), layout="constrained")
    axes.imshow(image.permute(1, 2, 0).numpy())
    colours = ["tab:orange", "tab:green", "tab:purple"]
    for k, (centre, stride) in enumerate(zip(centres, strides, strict=True)):
        x, y = centre[index].tolist()
        half = size * stride / 2
        axes.add_patch(
            Rectangle(
                (x - half, y - half),
                2 * half,
                2 * half,
                fill=False,
                color=colours[k % 3],
                linewidth=1.5,
                label=f"stage {k + 1}: level stride {stride}, {size * stride} px",
            )
        )
    axes.plot(*landmarks[index], "o", color="lime", markersize=4, label="truth")
    axes.legend(loc="upper right", fontsize=6, framealpha=0.85)
    axes.set(title=f"patch support around landmark {index}", xlabel="x (image px)", ylabel="y (image px)")
    return check_labelled(figure)


def parameter_figure(
    counts: dict[int, dict[str, int]], paper: float = 1.46e6, datasets: dict[str, int] | None = None
) -> Figure:
    """Sect. 6.5: the parameter count against N, stacked by part, with the paper's 1.46M.

    Args:
        counts: N -> {"baseline": ..., "channel selection": ..., "CropNets": ...} (any parts; stacked in order).
        paper: the count the paper reports.
        datasets: name -> N, marked on the axis.
    """
    figure, axes = plt.subplots(figsize=(6.4, 2.9), layout="constrained")
    ns = sorted(counts)
    parts = list(counts[ns[0]])
    axes.stackplot(ns, *[[counts[n][part] / 1e6 for n in ns] for part in parts], labels=parts, alpha=0.8)
    axes.axhline(paper / 1e6, color="black", linestyle="--", linewidth=1, label=f"paper: {paper / 1e6:.2f}M")
    for name, n in (datasets or {}).items():
        total = sum(counts[n].values()) / 1e6
        axes.plot([n], [total], "o", color="black", markersize=3)
        label = f"{name}\nN={n}: {total:.2f}M"
        axes.annotate(label, (n, total), textcoords="offset points", xytext=(-10, 8), fontsize=7)
    axes.set(title="Parameters of the 3-stage ResNet18-FFLD", xlabel="landmarks N", ylabel="parameters (millions)")
    axes.set_xlim(ns[0], ns[-1])
    axes.set_ylim(0, 1.2 * max(sum(counts[n].values()) for n in ns) / 1e6)
    axes.legend(loc="upper left", fontsize=7)
    return check_labelled(figure)


__all__ = [
    "SELECTION_MODES",
    "ShapeStep",
    "closed_form_parts",
    "parameter_figure",
    "parameter_parts",
    "parameters_in_closed_form",
    "refined_from_baseline",
    "selected_patches",
    "selection_contrast",
    "selection_figure",
    "selection_parameters",
    "shape_trace",
    "support_figure",
    "table7_parameters",
]
