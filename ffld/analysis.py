"""Analyses of an evaluation (Sect. 6.3–6.5): benchmark tables, CED curves, errors along and across the boundaries
(Fig. 10), ΔS statistics, worst cases, occlusion.

Everything here works on :class:`ffld.evaluate.Evaluation` objects (predictions of every stage, in original-image
pixels, and their normalised errors) and plain arrays, so it applies to any benchmark; the SynthFace-specific
helpers read the metadata the generator records for each image (degradations, visibility codes).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ffld.data.specs import LandmarkSpec, inter_pupil
from ffld.evaluate import Evaluation
from ffld.featuremaps import normals_of
from ffld.metrics import auc_fr, ced, landmark_errors
from ffld.tables import markdown

VISIBILITY = {0: "visible", 1: "hidden by an occluder", 2: "hidden by the face itself"}
"""SynthFace's visibility codes (see :mod:`ffld.data.synthetic.generate`)."""


def concatenate(parts: Sequence[Evaluation]) -> Evaluation:
    """The evaluations of several face sets as one (e.g. 300W "full" = common + challenge)."""
    return Evaluation(
        stages=np.concatenate([part.stages for part in parts], axis=1),
        deltas=np.concatenate([part.deltas for part in parts], axis=1),
        truth=np.concatenate([part.truth for part in parts]),
        norms=np.concatenate([part.norms for part in parts]),
        errors=np.concatenate([part.errors for part in parts], axis=1),
        paths=[path for part in parts for path in part.paths],
        visible=_concatenated_visibility(parts),
    )


def _concatenated_visibility(parts: Sequence[Evaluation]) -> np.ndarray | None:
    """The parts' visibility masks as one, ``None`` if none has one; parts scored differently are refused."""
    masks = [part.visible for part in parts]
    if all(mask is None for mask in masks):
        return None
    if any(mask is None for mask in masks):
        raise ValueError("cannot join evaluations scored on visible landmarks with ones scored on all landmarks")
    return np.concatenate(masks)


def with_full(evaluations: dict[str, Evaluation], parts: tuple[str, ...] = ("common", "challenge")) -> dict:
    """``evaluations`` plus ``"full"``, the concatenation of ``parts`` (300W's and SynthFace's full test set)."""
    return {**evaluations, "full": concatenate([evaluations[part] for part in parts])}


def renormalised(evaluation: Evaluation, norms: np.ndarray) -> Evaluation:
    """The same predictions with errors normalised by other (M,) distances ``norms``, one per face (e.g.
    inter-pupil instead of inter-ocular)."""
    norms = np.asarray(norms, dtype=np.float64)
    errors = np.stack([landmark_errors(stage, evaluation.truth, norms) for stage in evaluation.stages])
    return dataclasses.replace(evaluation, norms=norms, errors=errors)


def inter_pupil_evaluation(evaluation: Evaluation, spec: LandmarkSpec) -> Evaluation:
    """The evaluation normalised by the distance between the eye centres (the upper half of Table 1)."""
    return renormalised(evaluation, inter_pupil(evaluation.truth, spec))


def nme_table(
    evaluations: dict[str, dict[str, Evaluation]],
    subsets: Sequence[str],
    threshold: float,
    stage: int = -1,
    reference: dict[str, Sequence[float]] | None = None,
) -> str:
    """A Markdown table in the layout of the paper's Tables 1–4: one row per model, NME (%) per subset, then
    AUC and failure rate (%) at ``threshold`` on the last subset, and optionally the paper's NMEs.

    Args:
        evaluations: model name -> subset -> evaluation.
        subsets: the NME columns.
        threshold: for AUC and FR (e.g. 0.08).
        stage: which prediction to score (-1: the last).
        reference: model name -> the paper's NME per subset, shown in brackets where given.
    """
    last = subsets[-1]
    header = [*(f"{subset} NME" for subset in subsets), f"{last} AUC@{threshold:g}", f"{last} FR@{threshold:g}"]
    rows = []
    for name, by_subset in evaluations.items():
        cells = [name]
        for index, subset in enumerate(subsets):
            cell = f"{100 * by_subset[subset].nme[stage].mean():.2f}"
            if reference and name in reference:
                cell += f" ({reference[name][index]:.2f})"
            cells.append(cell)
        auc, failure = auc_fr(by_subset[last].nme[stage], threshold)
        cells += [f"{100 * auc:.2f}", f"{100 * failure:.2f}"]
        rows.append(cells)
    return markdown(["method", *header], rows)


def ced_points(errors: np.ndarray, low: float, high: float, count: int = 201) -> tuple[np.ndarray, np.ndarray]:
    """A CED curve sampled at ``count`` thresholds from ``low`` to ``high`` (Fig. 9: per-image NMEs; Fig. 11:
    per-landmark errors)."""
    thresholds = np.linspace(low, high, count)
    return thresholds, ced(errors, thresholds)


def delta_statistics(deltas: np.ndarray) -> list[dict[str, float]]:
    """Per refinement stage: the spread and the tail of the corrections ΔS (Fig. 13).

    Args:
        deltas: (K, M, N, 2) corrections in pixels.

    Returns:
        Per stage: ``std`` of the components (px), ``p99`` and ``max`` of the correction lengths ``|ΔS|`` (px),
        ``kurtosis`` (excess kurtosis of the components: 0 for a Gaussian, large for a long tail) and ``beyond4``
        (the fraction of components farther than 4 standard deviations from the mean; 6.3e-5 for a Gaussian).
    """
    rows = []
    for stage in np.asarray(deltas, dtype=np.float64):
        components = stage.reshape(-1)
        centred = components - components.mean()
        std = float(centred.std())
        lengths = np.linalg.norm(stage, axis=-1).ravel()
        rows.append(
            {
                "std": std,
                "p99": float(np.percentile(lengths, 99)),
                "max": float(lengths.max()),
                "kurtosis": float((centred**4).mean() / std**4 - 3.0),
                "beyond4": float((np.abs(centred) > 4 * std).mean()),
            }
        )
    return rows


def boundary_errors(
    predictions: np.ndarray, truth: np.ndarray, tangents: np.ndarray, norms: np.ndarray
) -> dict[str, np.ndarray]:
    r"""Each landmark's error split along and across the boundary it lies on (Sect. 4.3: Align Loss "forces the
    predicted landmarks to stay on the boundary lines"; Fig. 10).

    With the error :math:`e = p - g`, the unit tangent :math:`t` of the boundary at :math:`g` and the normal
    :math:`n = (-t_y, t_x)` (:func:`ffld.featuremaps.normals_of`), ``along`` is :math:`|e \cdot t| / d` and
    ``across`` :math:`|e \cdot n| / d`, so that ``along² + across²`` is the squared normalised error.

    Args:
        predictions: (M, N, 2) predicted landmarks.
        truth: (M, N, 2) ground truth, in the same pixels.
        tangents: (M, N, 2) unit boundary directions at the truth (SynthFace records them; at a corner, its axis).
        norms: (M,) the normaliser of each face (e.g. the inter-ocular distance).

    Returns:
        ``{"along": (M, N), "across": (M, N)}`` normalised error components (fractions).
    """
    error = np.asarray(predictions, np.float64) - np.asarray(truth, np.float64)
    tangents = np.asarray(tangents, np.float64)
    if not np.allclose(np.linalg.norm(tangents, axis=-1), 1.0, atol=1e-3):
        raise ValueError("boundary_errors: tangents must be unit vectors")
    normals = normals_of(torch.from_numpy(tangents)).numpy()
    scale = np.asarray(norms, np.float64)[:, None]
    return {
        "along": np.abs((error * tangents).sum(-1)) / scale,
        "across": np.abs((error * normals).sum(-1)) / scale,
    }


def boundary_error_table(splits: dict[str, dict[str, np.ndarray]], groups: dict[str, Sequence[int]]) -> str:
    """A Markdown table of mean :func:`boundary_errors` components (in %), one row per prediction and one
    ``along / across`` column per group of landmarks.

    Args:
        splits: label -> ``{"along": (M, N), "across": (M, N)}``.
        groups: column name -> the landmark indices it averages over.
    """
    rows = []
    for label, split in splits.items():
        means = [(split["along"][:, list(m)].mean(), split["across"][:, list(m)].mean()) for m in groups.values()]
        rows.append([label, *(f"{100 * along:.2f} / {100 * across:.2f}" for along, across in means)])
    return markdown(["prediction", *(f"{name} along / across" for name in groups)], rows)


def worst_cases(nmes: np.ndarray, count: int) -> np.ndarray:
    """Indices of the ``count`` images with the largest of the (M,) ``nmes``, worst first (Fig. 14)."""
    nmes = np.asarray(nmes, dtype=np.float64)
    return np.argsort(-nmes, kind="stable")[:count]


def synthface_records(paths: Sequence[str]) -> list[dict[str, Any]]:
    """The generator's metadata record of each SynthFace image (pose, degradations, visibility codes, ...)."""
    folders: dict[Path, dict[str, dict[str, Any]]] = {}
    records = []
    for path in map(Path, paths):
        if path.parent not in folders:
            meta = json.loads((path.parent / "meta.json").read_text(encoding="utf-8"))
            folders[path.parent] = {record["file"]: record for record in meta["images"]}
        records.append(folders[path.parent][path.name])
    return records


def is_low_resolution(record: dict[str, Any]) -> bool:
    """Whether a SynthFace image was stored downscaled (its resolution is 2–4 times lower than rendered)."""
    return record["degradations"].get("downscale") is not None


def errors_by_visibility(errors: np.ndarray, codes: np.ndarray) -> list[dict[str, Any]]:
    """Mean normalised error of the landmarks of each visibility code, per stage (Fig. 12 measured).

    Args:
        errors: (K+1, M, N) normalised errors (``Evaluation.errors``).
        codes: (M, N) visibility codes (see :data:`VISIBILITY`).

    Returns:
        Per stage: ``{code: mean error}`` for the codes present, and ``counts``: landmarks per code.
    """
    errors, codes = np.asarray(errors, dtype=np.float64), np.asarray(codes)
    present = sorted(int(code) for code in np.unique(codes))
    rows = []
    for stage in errors:
        row: dict[str, Any] = {code: float(stage[codes == code].mean()) for code in present}
        row["counts"] = {code: int((codes == code).sum()) for code in present}
        rows.append(row)
    return rows


def visibility_table(rows: dict[str, dict[str, Any]]) -> str:
    """A Markdown table of :func:`errors_by_visibility` rows (label -> one stage's row), errors in %."""
    counts = next(iter(rows.values()))["counts"]
    header = [f"{VISIBILITY.get(code, code)} ({count})" for code, count in counts.items()]
    cells = [[label, *(f"{100 * row[code]:.2f}" for code in counts)] for label, row in rows.items()]
    return markdown(["prediction", *header], cells)


__all__ = [
    "VISIBILITY",
    "boundary_error_table",
    "boundary_errors",
    "ced_points",
    "concatenate",
    "delta_statistics",
    "errors_by_visibility",
    "inter_pupil_evaluation",
    "is_low_resolution",
    "nme_table",
    "renormalised",
    "synthface_records",
    "visibility_table",
    "with_full",
    "worst_cases",
]
