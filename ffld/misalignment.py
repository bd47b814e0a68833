r"""Patch misalignment and the correction a stage answers it with (Fig. 3, Sect. 3.2).

Fig. 3 states the idea of FFLD: a landmark placed off its boundary shifts the boundary inside the feature-map patch
cropped around it, and the stage's CropNet "measures this patch misalignment to estimate a refined correction".
On SynthFace, whose landmarks come with the direction :math:`t` of their boundary, this can be measured: crop at
the exact landmarks :math:`g`, and at landmarks moved by ``amount`` pixels along a unit direction :math:`u`
(across the boundary, :math:`u = n`; along it, :math:`u = t`), and compare the stage's corrections. The *gain*

.. math::  \gamma = -\frac{(\Delta S(g + a u) - \Delta S(g)) \cdot u}{a}

is 1 when the stage takes the move back entirely and 0 when it ignores it. A move along a straight boundary
leaves the patch nearly unchanged (the aperture problem), so only the gain across is expected to be large.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from ffld.featuremaps import BoundaryFaces, feature_levels, normals_of
from ffld.models import FFLD
from ffld.plotting import check_labelled
from ffld.tables import markdown

DIRECTIONS = ("across", "along")


def _unit(faces: BoundaryFaces, direction: str) -> torch.Tensor:
    """(M, N, 2) the boundary normals (``"across"``) or tangents (``"along"``) of ``faces``."""
    if direction == "across":
        return normals_of(faces.tangents)
    if direction == "along":
        return faces.tangents
    raise ValueError(f"unknown direction {direction!r}; choose one of {DIRECTIONS}")


def _stage_input(model: FFLD, faces: BoundaryFaces, stage: int) -> torch.Tensor:
    """(M, C, H, W) the level maps stage ``stage`` (1..K) crops, for ``faces`` (the backbone alone is run)."""
    model.eval()
    return feature_levels(model, faces.images)[model.stage_levels[stage - 1] - 1]


def _stage_gains(model: FFLD, faces: BoundaryFaces, stage: int) -> Callable[[str, float, int | None], torch.Tensor]:
    """:func:`misplaced_gain` of stage ``stage`` on ``faces`` as a function of ``(direction, amount, landmark)``.

    The backbone and the stage's correction at the exact landmarks are computed once, here, for all its calls
    (:func:`gain_table` makes two per landmark and stage).
    """
    refinement = model.refinements[stage - 1]
    features = _stage_input(model, faces, stage)
    at_truth = refinement(features, faces.points)

    def gains(direction: str, amount: float, landmark: int | None) -> torch.Tensor:
        if amount == 0:
            raise ValueError("misplaced_gain: amount must not be 0")
        unit = _unit(faces, direction)
        moved = faces.points + amount * unit if landmark is None else faces.points.clone()
        if landmark is not None:
            moved[:, landmark] += amount * unit[:, landmark]
        change = refinement(features, moved) - at_truth
        gain = -(change * unit).sum(-1) / amount
        return gain if landmark is None else gain[:, landmark]

    return gains


@torch.no_grad()
def misplaced_gain(
    model: FFLD, faces: BoundaryFaces, stage: int, direction: str, amount: float, landmark: int | None = None
) -> torch.Tensor:
    """The gain :math:`\\gamma` of stage ``stage`` (1..K) at every landmark, its input estimate moved off the truth.

    Every landmark of the stage's input is at its exact position, except the moved ones: all of them at once
    (``landmark=None``: a misplaced shape, each point moved ``amount`` px along its own direction) or ``landmark``
    alone (the others stay exact).

    Args:
        model: the network (put in eval mode).
        faces: M faces with exact landmarks and boundary directions (:func:`ffld.featuremaps.synthface_boundary_faces`).
        stage: the refinement stage, 1..K.
        direction: ``"across"`` or ``"along"`` the boundary (:data:`DIRECTIONS`).
        amount: the move in image pixels (not 0).
        landmark: the landmark moved alone, or ``None``.

    Returns:
        (M, N) gains (``landmark=None``), or the (M,) gains of ``landmark``.
    """
    return _stage_gains(model, faces, stage)(direction, amount, landmark)


@torch.no_grad()
def misalignment_figure(
    model: FFLD,
    faces: BoundaryFaces,
    face: int,
    landmark: int,
    stage: int,
    offset: tuple[float, float],
    alone: bool = True,
) -> Figure:
    """Fig. 3 on a trained model: the selected patches of one landmark cropped at the truth (top row, green) and
    moved off it (bottom row, red), and, on the image, where the stage moves the misplaced landmark (arrow: ΔS).

    Args:
        model: the network (put in eval mode).
        faces: faces with exact landmarks (:func:`ffld.featuremaps.synthface_boundary_faces`).
        face: which face; landmark: which landmark; stage: which refinement stage (1..K).
        offset: ``(across, along)`` the move in image pixels, along the boundary's normal and tangent.
        alone: move ``landmark`` alone (the others stay exact), or every landmark by ``offset`` in its own frame.
    """
    one = faces.select([face])
    features = _stage_input(model, one, stage)
    refinement = model.refinements[stage - 1]
    move = offset[0] * _unit(one, "across") + offset[1] * _unit(one, "along")
    if alone:
        move[:, torch.arange(move.shape[1]) != landmark] = 0
    rows = {"at the truth": one.points, "misplaced": one.points + move}
    patches = {label: refinement.crop(features, points)[0, landmark] for label, points in rows.items()}
    moved = rows["misplaced"][0, landmark]
    corrected = moved + refinement(features, rows["misplaced"])[0, landmark]

    channels = patches["misplaced"].shape[0]
    layout = [[f"{row}{channel}" for channel in range(channels)] + ["image"] for row in range(2)]
    figure, axes = plt.subplot_mosaic(layout, figsize=(1.4 * channels + 2.8, 3.0), layout="constrained",
                                      width_ratios=[1] * channels + [2])  # fmt: skip
    limit = float(torch.stack(list(patches.values())).abs().max()) or 1.0
    for row, (label, selected) in enumerate(patches.items()):
        for channel in range(channels):
            panel = axes[f"{row}{channel}"]
            panel.imshow(selected[channel].numpy(), cmap="coolwarm", vmin=-limit, vmax=limit)
            panel.set_title(f"{label}, ch {channel + 1}", fontsize=7, color="green" if row == 0 else "red")
            panel.set_axis_off()
    panel = axes["image"]
    x, y = one.points[0, landmark].tolist()
    half = refinement.patch_size * refinement.stride / 2
    panel.imshow(one.images[0].permute(1, 2, 0).numpy())
    panel.plot(x, y, "o", color="lime", markersize=5, label="truth")
    panel.plot(*moved.tolist(), "x", color="red", markersize=6, label="misplaced")
    panel.plot(*corrected.tolist(), "+", color="yellow", markersize=7, label="misplaced + ΔS")
    panel.annotate("", corrected.tolist(), moved.tolist(), arrowprops={"arrowstyle": "->", "color": "yellow"})
    panel.set(xlim=(x - 1.2 * half, x + 1.2 * half), ylim=(y + 1.2 * half, y - 1.2 * half))
    panel.set_title(f"stage {stage}, {2 * half:.0f} px patch", fontsize=7)
    panel.set(xlabel="x (image px)", ylabel="y (image px)")
    panel.legend(fontsize=6, loc="lower right", framealpha=0.8)
    moved_what = f"landmark {landmark} alone" if alone else "every landmark"
    figure.suptitle(f"{moved_what} moved {offset[0]:+.1f} px across and {offset[1]:+.1f} px along", fontsize=8)
    return check_labelled(figure)


@torch.no_grad()
def gain_table(model: FFLD, faces: BoundaryFaces, amount: float, groups: dict[str, range]) -> list[dict[str, object]]:
    """Median gains (:func:`misplaced_gain`) of every stage and group of landmarks, over the visible landmarks of
    ``faces``, moved ``amount`` px across and along: all landmarks at once (``together``) and one at a time
    (``alone``).

    Returns:
        One row per (stage, group): ``stage``, ``group``, and ``"<direction> <together|alone>"`` -> median gain.
    """
    rows: list[dict[str, object]] = []
    for stage in range(1, len(model.refinements) + 1):
        gains = _stage_gains(model, faces, stage)
        together = {key: gains(key, amount, None) for key in DIRECTIONS}
        for group, members in groups.items():
            row: dict[str, object] = {"stage": stage, "group": group}
            visible = faces.visible[:, list(members)]
            for direction in DIRECTIONS:
                alone = torch.stack([gains(direction, amount, i) for i in members], dim=1)
                row[f"{direction} together"] = float(together[direction][:, list(members)][visible].median())
                row[f"{direction} alone"] = float(alone[visible].median())
            rows.append(row)
    return rows


def gain_markdown(rows: list[dict[str, object]]) -> str:
    """A Markdown table of :func:`gain_table` rows, gains to two decimals (a gain that rounds to zero is 0.00)."""
    keys = [f"{direction} {how}" for direction in DIRECTIONS for how in ("together", "alone")]
    cells = [
        [row["stage"], row["group"], *(f"{round(row[key], 2) + 0.0:.2f}" for key in keys)]  # + 0.0: no "-0.00"
        for row in rows
    ]
    return markdown(["stage", "landmarks", *keys], cells)


__all__ = ["DIRECTIONS", "gain_markdown", "gain_table", "misalignment_figure", "misplaced_gain"]
