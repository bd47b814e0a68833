"""Faces cropped once to the model's input and held as tensors, for training and evaluation.

Decoding and cropping happen once (with ``workers`` processes); afterwards every epoch reads the uint8 crops
from memory, on the training device, and augments whole batches there (:mod:`ffld.data.transforms`), so the
input pipeline never starves a GPU. 300W's 3148 training faces at 224×224 take 474 MB.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.utils.data
from tqdm import tqdm  # the console bar: it switches itself off where output is no terminal (notebooks, logs)

from ffld.cpus import usable_cpus
from ffld.data.base import landmark_box
from ffld.data.facecrop import apply_affine, crop_face
from ffld.data.image import ImageFileError
from ffld.data.pts import LandmarkFileError

EXTRA_KEYS = ("occluded", "visible", "clean_landmarks", "pose", "attributes")
"""Per-face entries kept when a dataset provides them (in original-image coordinates where they are points)."""


@dataclass
class PreparedFaces:
    """M faces, each cropped to S×S around its box.

    Attributes:
        images: (M, 3, S, S) uint8 crops.
        landmarks: (M, N, 2) float32 landmarks in crop pixels.
        matrices: (M, 2, 3) float64 maps from original-image pixels to crop pixels.
        original: (M, N, 2) float32 landmarks in original-image pixels.
        boxes: (M, 4) float32 dataset face boxes ``(x0, y0, x1, y1)`` in original-image pixels.
        paths: M sources: where each face comes from, as the reader's messages name it (``item["source"]``: the
            image file, plus the face's place where a file holds several), or the item's ``path``.
        extras: entries of :data:`EXTRA_KEYS` the dataset provides, each with leading dimension M.
    """

    images: torch.Tensor
    landmarks: torch.Tensor
    matrices: torch.Tensor
    original: torch.Tensor
    boxes: torch.Tensor
    paths: list[str]
    extras: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device | str) -> PreparedFaces:
        """The crops and crop-pixel landmarks moved to ``device`` (the rest stays on the CPU)."""
        return dataclasses.replace(self, images=self.images.to(device), landmarks=self.landmarks.to(device))

    def select(self, indices: torch.Tensor | np.ndarray) -> PreparedFaces:
        """The faces at ``indices`` (repeats allowed, e.g. for pose-based balancing)."""
        index = torch.as_tensor(indices, dtype=torch.long)
        cpu_index = index.cpu()

        def take(tensor: torch.Tensor) -> torch.Tensor:
            return tensor[index.to(tensor.device)]

        return PreparedFaces(
            images=take(self.images),
            landmarks=take(self.landmarks),
            matrices=self.matrices[cpu_index],
            original=self.original[cpu_index],
            boxes=self.boxes[cpu_index],
            paths=[self.paths[i] for i in cpu_index.tolist()],
            extras={key: value[cpu_index] for key, value in self.extras.items()},
        )

    @staticmethod
    def concatenate(parts: list[PreparedFaces]) -> PreparedFaces:
        """The faces of several sets, in order (e.g. 300W full = common + challenge)."""
        keys = set.intersection(*(set(p.extras) for p in parts)) if parts else set()
        return PreparedFaces(
            images=torch.cat([p.images for p in parts]),
            landmarks=torch.cat([p.landmarks for p in parts]),
            matrices=torch.cat([p.matrices for p in parts]),
            original=torch.cat([p.original for p in parts]),
            boxes=torch.cat([p.boxes for p in parts]),
            paths=[path for p in parts for path in p.paths],
            extras={key: torch.cat([p.extras[key] for p in parts]) for key in sorted(keys)},
        )


class _Cropped(torch.utils.data.Dataset):
    """One face of a dataset, cropped, as arrays (runs in the loader's worker processes).

    A face with bad input (:class:`ImageFileError`, :class:`LandmarkFileError`) gives its error as the item, so
    that :func:`prepare_faces` raises it in the calling process with its own one-line message, not wrapped in the
    worker's traceback.
    """

    def __init__(self, dataset: torch.utils.data.Dataset, size: int, enlarge: float, box: str) -> None:
        self.dataset, self.size, self.enlarge, self.box = dataset, size, enlarge, box

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any] | ImageFileError | LandmarkFileError:
        try:
            item = self.dataset[index]
        except (ImageFileError, LandmarkFileError) as error:
            return error
        landmarks = np.asarray(item["landmarks"], dtype=np.float64)
        dataset_box = np.asarray(item.get("box", landmark_box(landmarks)), dtype=np.float64)
        crop_box = landmark_box(landmarks) if self.box == "landmarks" else dataset_box
        crop, matrix = crop_face(item["image"], crop_box, self.size, self.enlarge)
        out = {
            "image": torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))),
            "landmarks": torch.from_numpy(apply_affine(matrix, landmarks).astype(np.float32)),
            "matrix": torch.from_numpy(matrix),
            "original": torch.from_numpy(landmarks.astype(np.float32)),
            "box": torch.from_numpy(dataset_box.astype(np.float32)),
            "path": str(item.get("source", item["path"])),
        }
        for key in EXTRA_KEYS:
            if key in item:
                out[key] = torch.as_tensor(np.asarray(item[key]))
        return out


def prepare_faces(
    dataset: torch.utils.data.Dataset,
    size: int,
    enlarge: float = 1.25,
    box: str = "landmarks",
    workers: int = 0,
    description: str = "preparing faces",
) -> PreparedFaces:
    """Crop every face of a dataset to ``size`` × ``size`` (see :func:`ffld.data.facecrop.crop_face`).

    Args:
        dataset: items with ``image``, ``landmarks``, ``path`` and optionally ``box`` and :data:`EXTRA_KEYS`.
        size: S, the model's input side.
        enlarge: the crop's side is this factor times the larger side of the box.
        box: "landmarks" (the ground-truth landmarks' box) or "dataset" (the item's ``box``).
        workers: decoding processes, at most as many as the CPUs this process may use (the configs' 8 on a
            2-core machine would only crowd it).
        description: progress-bar label.
    """
    if len(dataset) == 0:
        raise ValueError(f"{description}: the dataset holds no faces")
    workers = min(workers, usable_cpus())
    loader = torch.utils.data.DataLoader(
        _Cropped(dataset, size, enlarge, box), batch_size=32, num_workers=workers, collate_fn=list
    )
    items = []
    for batch in tqdm(loader, desc=description, leave=False, disable=None):
        for item in batch:
            if isinstance(item, Exception):
                raise item
            items.append(item)
    extras = {key: torch.stack([item[key] for item in items]) for key in EXTRA_KEYS if key in items[0]}
    return PreparedFaces(
        images=torch.stack([item["image"] for item in items]),
        landmarks=torch.stack([item["landmarks"] for item in items]),
        matrices=torch.stack([item["matrix"] for item in items]),
        original=torch.stack([item["original"] for item in items]),
        boxes=torch.stack([item["box"] for item in items]),
        paths=[item["path"] for item in items],
        extras=extras,
    )


__all__ = ["EXTRA_KEYS", "PreparedFaces", "prepare_faces"]
