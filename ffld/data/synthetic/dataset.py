"""SynthFace as a PyTorch dataset, read from its 300W-layout folder (see :mod:`ffld.data.synthetic.generate`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from ffld.data.image import load_image
from ffld.data.pts import read_pts
from ffld.data.synthetic.parts import NUM_LANDMARKS

SPLIT_PARTS = {"train": ("train",), "common": ("common",), "challenge": ("challenge",), "full": ("common", "challenge")}


class SynthFace(Dataset):
    """One split of a generated SynthFace benchmark.

    Each item is a dict of numpy arrays (coordinates are 0-based (x, y) pixels of the stored image):

    - ``image``: H×W×3 uint8 RGB;
    - ``landmarks``: (68, 2) float32, the annotated landmarks of the ``.pts`` file (noisy when the benchmark
      was generated with annotation noise);
    - ``clean_landmarks``: (68, 2) float32, the exact landmarks;
    - ``tangents``: (68, 2) float32, unit direction of the boundary at each clean landmark;
    - ``occluded``: (68,) bool, hidden by an occluder or by the face itself;
    - ``pose``: (3,) float32, yaw, pitch and roll in degrees;
    - ``box``: (4,) float32, x0, y0, x1, y1 of the clean landmarks;
    - ``path``: the image file.

    Args:
        root: the benchmark's folder (e.g. from :func:`ffld.data.synthetic.ensure_synthface`).
        split: "train", "common", "challenge" or "full" (common + challenge, as 300W's full test set).
        transform: applied to each item dict.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        transform: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        if split not in SPLIT_PARTS:
            raise ValueError(f"unknown split {split!r}; expected one of {tuple(SPLIT_PARTS)}")
        self.root, self.split, self.transform = Path(root), split, transform
        self.records: list[tuple[str, dict[str, Any]]] = []
        for part in SPLIT_PARTS[split]:
            meta = self.root / part / "meta.json"
            if not meta.is_file():
                raise FileNotFoundError(f"{meta} not found: {self.root} is not a generated SynthFace benchmark")
            self.records += [(part, record) for record in json.loads(meta.read_text(encoding="utf-8"))["images"]]

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Any:
        part, record = self.records[index]
        path = self.root / part / record["file"]
        item = {
            "image": load_image(path),
            "landmarks": read_pts(path.with_suffix(".pts"), NUM_LANDMARKS).astype(np.float32),
            "clean_landmarks": np.asarray(record["clean_landmarks"], np.float32),
            "tangents": np.asarray(record["tangents"], np.float32),
            "occluded": np.asarray(record["visibility"]) != 0,
            "pose": np.asarray(record["pose"], np.float32),
            "box": np.asarray(record["box"], np.float32),
            "path": str(path),
        }
        return self.transform(item) if self.transform is not None else item


__all__ = ["SPLIT_PARTS", "SynthFace"]
