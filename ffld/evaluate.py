"""Evaluation (Sect. 6.2): per-image NME of every stage, mapped back to original-image coordinates.

Faces are cropped as in training (:mod:`ffld.data.prepared`); predictions are mapped back through the inverse of
each crop's affine matrix and compared with the original annotation, normalised as the benchmark's protocol
says (inter-ocular for 300W/300VW/WFLW/SynthFace, face size for AFLW, inter-pupil for COFW; see
:mod:`ffld.data.registry` for why COFW's is not the face size its table's caption names), or by another normaliser
on request (300W's inter-pupil half of Table 1).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ffld.checkpoint import load_model
from ffld.data.facecrop import apply_affine, invert_affine
from ffld.data.prepared import PreparedFaces, prepare_faces
from ffld.data.registry import DatasetInfo, dataset_info, open_split
from ffld.files import sha256_of, write_csv
from ffld.metrics import auc_fr, check_visible, landmark_errors, mean_error
from ffld.models import FFLD
from ffld.provenance import write_json


@dataclass
class Evaluation:
    """Predictions and errors of every stage on M faces.

    Attributes:
        stages: (K+1, M, N, 2) predictions S0..SK in original-image pixels.
        deltas: (K, M, N, 2) corrections ΔS1..ΔSK in crop pixels (the model's input frame, Fig. 13).
        truth: (M, N, 2) ground truth in original-image pixels.
        norms: (M,) the normaliser of each face.
        errors: (K+1, M, N) normalised error of every landmark (Fig. 11).
        paths: M source paths.
        visible: (M, N) bool, the landmarks each face's NME averages over; ``None``: all of them.
    """

    stages: np.ndarray
    deltas: np.ndarray
    truth: np.ndarray
    norms: np.ndarray
    errors: np.ndarray
    paths: list[str]
    visible: np.ndarray | None = None

    @property
    def nme(self) -> np.ndarray:
        """(K+1, M) per-image NME of every stage (fractions): the mean error of its (visible) landmarks."""
        return mean_error(self.errors, self.visible)

    def summary(self, threshold: float) -> list[dict[str, float]]:
        """Per stage: mean NME, AUC and failure rate at ``threshold`` (all in %)."""
        rows = []
        for stage, nmes in enumerate(self.nme):
            auc, failure = auc_fr(nmes, threshold)
            rows.append({"stage": stage, "nme": 100 * nmes.mean(), "auc": 100 * auc, "fr": 100 * failure})
        return rows


@torch.no_grad()
def predict_crops(
    model: FFLD, images: torch.Tensor, device: torch.device | str, batch_size: int = 64, bf16: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Run the model on uint8 crops.

    Args:
        images: (M, 3, S, S) uint8 crops (any device).
        device: where to run.

    Returns:
        ``(stages, deltas)``: (K+1, M, N, 2) and (K, M, N, 2) float64 arrays in crop pixels.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    stages, deltas = [], []
    try:
        for start in range(0, images.shape[0], batch_size):
            batch = images[start : start + batch_size].to(device).float().div_(255)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                output = model(batch)
            stages.append(torch.stack(output.stages).double().cpu())
            if output.deltas:
                deltas.append(torch.stack(output.deltas).double().cpu())
    finally:
        model.train(was_training)
    stage_array = torch.cat(stages, dim=1).numpy()
    delta_array = torch.cat(deltas, dim=1).numpy() if deltas else np.zeros((0, *stage_array.shape[1:]))
    return stage_array, delta_array


def evaluate_faces(
    model: FFLD,
    faces: PreparedFaces,
    info: DatasetInfo,
    device: torch.device | str = "cpu",
    bf16: bool = False,
    truth: np.ndarray | None = None,
    visible: np.ndarray | None = None,
) -> Evaluation:
    """Evaluate a model on prepared faces.

    Args:
        truth: (M, N, 2) landmarks to compare with, in original-image pixels. Default: the faces' exact landmarks
            where the dataset has them (SynthFace's ``clean_landmarks``, which equal the annotation unless
            annotation noise was generated), else their annotation.
        visible: (M, N) bool, score only these landmarks (at least one per face); default: all.

    Raises:
        ValueError: a face's normaliser is not positive (e.g. its pupils coincide), named by its source.
    """
    stages_crop, deltas = predict_crops(model, faces.images, device, bf16=bf16)
    back = np.stack([invert_affine(m) for m in faces.matrices.numpy()])
    stages = np.stack([apply_affine(back, s) for s in stages_crop])
    if truth is None:
        truth = faces.extras.get("clean_landmarks", faces.original).numpy()
    truth = np.asarray(truth, dtype=np.float64)
    norms = np.asarray(info.norms(truth, faces.boxes.numpy().astype(np.float64)), dtype=np.float64)
    degenerate = np.flatnonzero(~(np.isfinite(norms) & (norms > 0)))
    if len(degenerate):  # e.g. COFW's pupils (points 17 and 18) annotated at one position
        raise ValueError(
            f"{faces.paths[degenerate[0]]}: the {info.normaliser} normaliser of this face is {norms[degenerate[0]]:g}, "
            f"so its NME is undefined ({len(degenerate)} such face(s) in {len(faces)})"
        )
    errors = np.stack([landmark_errors(s, truth, norms) for s in stages])
    if visible is not None:
        visible = check_visible(visible, errors.shape[1:])
    return Evaluation(stages, deltas, truth, norms, errors, list(faces.paths), visible)


def visibility_mask(faces: PreparedFaces, dataset: str) -> np.ndarray:
    """(M, N) bool: the landmarks the dataset marks visible (AFLW's ``visible``, COFW's not ``occluded``).

    Raises:
        ValueError: the dataset marks no visibility, or a face has no visible landmark (named by its source).
    """
    if "visible" in faces.extras:
        visible = faces.extras["visible"].numpy().astype(bool)
    elif "occluded" in faces.extras:
        visible = ~faces.extras["occluded"].numpy().astype(bool)
    else:
        raise ValueError(f"{dataset} marks no landmark visibility: only AFLW and COFW are scored on visible landmarks")
    hidden = np.flatnonzero(~visible.any(axis=1))
    if len(hidden):
        raise ValueError(
            f"{faces.paths[hidden[0]]}: no landmark is marked visible, so the face has no score on visible landmarks "
            f"({len(hidden)} such face(s) in {len(faces)}; score them on all landmarks, without --visible-only)"
        )
    return visible


def evaluate_checkpoint(
    checkpoint: str | os.PathLike,
    dataset: str,
    root: str | None,
    splits: list[str] | None = None,
    device: str | torch.device = "cpu",
    threshold: float | None = None,
    output: str | os.PathLike | None = None,
    workers: int = 0,
    convert: bool = False,
    visible_only: bool = False,
    normaliser: str | None = None,
) -> dict[str, Any]:
    """Evaluate a model file or checkpoint on a benchmark's test subsets and optionally write the results.

    Args:
        checkpoint: a ``.safetensors`` model file or a ``.pt`` training checkpoint.
        dataset: benchmark name (see :data:`ffld.data.registry.DATASETS`).
        root: the benchmark's folder.
        splits: subsets to evaluate (default: the benchmark's test subsets).
        threshold: AUC / failure-rate threshold, a fraction of the normaliser in (0, 1) (default: the
            benchmark's usual one, e.g. 0.08).
        output: a folder for ``results.json`` and ``per_image.csv`` (each face's subset, index in it, source as
            the reader's messages name it, and NME per stage), with provenance.
            NME, AUC and FR are in % in both.
        workers: image-decoding processes.
        convert: let the readers convert grayscale, 16-bit and 4-channel images to RGB (on by itself where the model
            was trained on this benchmark with ``data.convert``).
        visible_only: average each face's errors over its visible landmarks only (:func:`visibility_mask`; SAN's
            AFLW protocol; the paper does not say which it used, and HRNet averages over all 19).
        normaliser: a key of :data:`~ffld.data.registry.NORMALISERS` instead of the benchmark's own (e.g.
            ``"inter-pupil"`` for the upper half of Table 1 on 300W).

    SynthFace is generated (or found in its cache under ``root``, by default the training run's) with the generator
    settings the model was trained with, read from the model's metadata. A subset whose face count differs from the
    official protocol's (the readers' ``OFFICIAL_SIZES``) is scored with a warning: its scores are not comparable
    with published ones.

    Returns:
        ``{"checkpoint", "checkpoint_sha256", "dataset", "threshold", "normaliser", "landmarks": "all" or
        "visible", "root" (the dataset's folder, absolute), "subsets": {subset: [per-stage rows]}, "faces":
        {subset: count}}``.
    """
    if threshold is not None and not 0 < threshold < 1:
        raise ValueError(f"the threshold is a fraction of the normaliser (0.08 for 8%), got {threshold}")
    info = dataset_info(dataset)
    info = info if normaliser is None else info.normalised_by(normaliser)
    model, metadata = load_model(checkpoint, device)
    if model.num_landmarks != info.spec.num_points:
        raise ValueError(
            f"{checkpoint}: the model predicts {model.num_landmarks} landmarks, {dataset} has {info.spec.num_points}"
        )
    threshold = info.threshold if threshold is None else threshold
    splits = list(splits or info.test_splits)
    repeated = sorted({split for split in splits if splits.count(split) > 1})
    if repeated:
        raise ValueError(f"subset(s) {', '.join(repeated)} named more than once")
    results: dict[str, Any] = {
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": sha256_of(checkpoint),
        "dataset": dataset,
        "threshold": threshold,
        "normaliser": info.normaliser,
        "landmarks": "visible" if visible_only else "all",
    }
    results["subsets"], results["faces"] = {}, {}
    per_image = []
    trained_on = metadata.get("config", {}).get("data", {})
    synthface = None
    if info.name == "synthface" and trained_on.get("dataset") == "synthface":
        synthface = trained_on.get("synthface")
        root = trained_on.get("root") if root is None else root
    convert = convert or (trained_on.get("dataset") == info.name and bool(trained_on.get("convert")))
    results["root"] = None if root is None else str(Path(root).resolve())  # None: SynthFace's default cache
    for split in splits:
        reader = open_split(dataset, root, split, convert, synthface)
        faces = prepare_faces(
            reader,
            metadata["input_size"],
            metadata["enlarge"],
            metadata["box"],
            workers,
            f"preparing {dataset} subset {split} in {results['root']}",  # also names an empty subset
        )
        official = getattr(reader, "OFFICIAL_SIZES", {}).get(split.rpartition(":")[2])  # WFLW's test:blur -> blur
        if official is not None and len(faces) != official:
            warnings.warn(
                f"{dataset} subset {split}: {len(faces)} faces where the official protocol has {official}; its scores "
                "are not comparable with published ones",
                stacklevel=2,
            )
        visible = visibility_mask(faces, dataset) if visible_only else None
        evaluation = evaluate_faces(model, faces, info, device, visible=visible)
        results["subsets"][split] = evaluation.summary(threshold)
        results["faces"][split] = len(faces)
        for index, source in enumerate(evaluation.paths):
            per_image.append(
                {
                    "subset": split,
                    "index": index,  # the face's position in the subset, 0-based
                    "source": source,  # as the reader's messages name the face, e.g. "video.avi [frame 12]"
                    **{f"nme_S{k}": 100 * float(evaluation.nme[k, index]) for k in range(evaluation.nme.shape[0])},
                }
            )
    if output is not None:
        folder = Path(output)
        write_json(folder / "results.json", results, device)
        write_csv(folder / "per_image.csv", per_image)
    return results


__all__ = ["Evaluation", "evaluate_checkpoint", "evaluate_faces", "predict_crops", "visibility_mask"]
