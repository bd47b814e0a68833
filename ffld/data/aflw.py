"""AFLW-19 (Koestinger et al., 2011) with the protocols of Zhu et al. (CVPR 2016, CCL) used in the paper (Sect. 6.1).

Files::

    root/AFLWinfo_release.mat     CCL's annotation file
    root/data/flickr/{0,2,3}/image*.jpg   the AFLW images, as the official AFLW archives unpack

``AFLWinfo_release.mat`` holds (24386 faces; field meanings as read by SAN's ``aflw_from_mat.py``, FaRL's
``AFLW_19`` and PIPNet's ``preprocess.py``):

* ``bbox`` 24386×4: ``[left, right, top, bottom]``;
* ``data`` 24386×38: ``[x_1..x_19, y_1..y_19]``;
* ``mask_new`` 24386×19: 1 where the landmark is visible;
* ``nameList`` 24386×1 cell: image paths relative to ``data/flickr``;
* ``ra`` 1×24386: a permutation of 1..24386; its first 20000 entries are the training faces, the rest (4386) the
  test faces (AFLW-Full).

AFLW-Frontal keeps the test faces whose 19 landmarks are all visible (``mask_new`` all ones), as FaRL does;
the paper reports 1314 such faces. Coordinates are taken as MATLAB 1-based pixel coordinates (the file comes from
CCL's MATLAB code) and 1 is subtracted; the file itself does not say.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ffld.data.base import DatasetError, FaceRecord, LandmarkDataset, OnError, check_choice, check_landmarks
from ffld.data.matfile import read_mat
from ffld.data.specs import AFLW19, LandmarkSpec

FIELDS = ("bbox", "data", "mask_new", "nameList", "ra")


class AFLW19(LandmarkDataset):
    """AFLW-19 faces of one protocol split.

    Args:
        root: folder holding ``AFLWinfo_release.mat`` and ``data/flickr``.
        split: ``"train"`` (20000 faces), ``"full"`` (the 4386 test faces of AFLW-Full) or ``"frontal"`` (the
            test faces with all landmarks visible, AFLW-Frontal).
        on_error, convert, check_images, transform: see :class:`~ffld.data.base.LandmarkDataset`.

    Raises:
        DatasetError: for an unknown split, a missing file or folder, missing fields, fields of inconsistent size,
            or an ``ra`` that is not a permutation.

    Items: ``image``, ``landmarks`` (19, 2), ``path``, ``box`` (the dataset's box, used for the face-size
    normaliser), ``visible`` ((19,) bool), ``index`` (0-based row in the ``.mat`` file).
    """

    spec: ClassVar[LandmarkSpec] = AFLW19
    SPLITS: ClassVar[tuple[str, ...]] = ("train", "full", "frontal")
    TRAIN_SIZE: ClassVar[int] = 20000
    OFFICIAL_SIZES: ClassVar[dict[str, int]] = {"train": 20000, "full": 4386, "frontal": 1314}

    def __init__(
        self,
        root: str | os.PathLike,
        split: str,
        *,
        on_error: OnError = "raise",
        convert: bool = False,
        check_images: bool = False,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(on_error=on_error, convert=convert, check_images=check_images, transform=transform)
        check_choice("AFLW split", split, self.SPLITS)
        self.root = Path(root)
        self.split = split
        self.mat_path = self.root / "AFLWinfo_release.mat"
        self.image_root = self.root / "data" / "flickr"
        fields = read_mat(self.mat_path, FIELDS)
        if not self.image_root.is_dir():
            raise DatasetError(f"{self.image_root}: AFLW image folder not found")
        boxes, data, mask = (np.asarray(fields[key]) for key in ("bbox", "data", "mask_new"))
        names = fields["nameList"]
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise DatasetError(f"{self.mat_path}: nameList is not a cell array of file names")
        n = self.spec.num_points
        total = len(names)
        expected = {"bbox": (total, 4), "data": (total, 2 * n), "mask_new": (total, n)}
        for key, array in zip(expected, (boxes, data, mask), strict=True):
            if array.shape != expected[key]:
                raise DatasetError(f"{self.mat_path}: {key} has shape {array.shape}, expected {expected[key]}")
        invalid = np.flatnonzero(~np.isin(mask, (0, 1)).all(axis=1))
        if len(invalid):
            row = int(invalid[0])
            raise DatasetError(
                f"{self.mat_path} [face {row + 1}]: mask_new must hold 0 or 1 (visible), got {mask[row].tolist()}"
            )
        order = np.asarray(fields["ra"]).ravel()
        if not np.array_equal(np.sort(order), np.arange(1, total + 1)):
            raise DatasetError(f"{self.mat_path}: ra is not a permutation of 1..{total} ({_permutation_fault(order)})")
        rows = order.astype(np.int64) - 1
        if total <= self.TRAIN_SIZE:
            raise DatasetError(f"{self.mat_path}: {total} faces, the protocol needs more than {self.TRAIN_SIZE}")
        if split == "train":
            rows = rows[: self.TRAIN_SIZE]
        else:
            rows = rows[self.TRAIN_SIZE :]
            if split == "frontal":
                rows = rows[(mask[rows] == 1).all(axis=1)]
        self.finish(
            self.attempt(
                f"{self.mat_path} [face {row + 1}]",
                partial(self._record, row, names[row], data[row], boxes[row], mask[row]),
            )
            for row in rows.tolist()
        )

    def _record(self, row: int, name: str, data: np.ndarray, box: np.ndarray, mask: np.ndarray) -> FaceRecord:
        n = self.spec.num_points
        landmarks = check_landmarks(np.stack([data[:n], data[n:]], axis=1) - 1.0, n)
        left, right, top, bottom = (float(v) - 1.0 for v in box)
        if not np.isfinite([left, right, top, bottom]).all() or right <= left or bottom <= top:
            raise ValueError(f"bad box [left, right, top, bottom] = {box.tolist()}")
        image = self.image_root / name
        if not image.is_file():
            raise ValueError(f"image {image} not found")
        extras = {"visible": mask.astype(bool), "index": row}
        box_xyxy = np.array([left, top, right, bottom], dtype=np.float32)
        return FaceRecord(path=str(image), landmarks=landmarks, box=box_xyxy, extras=extras)

    def locate(self, record: FaceRecord) -> str:
        return f"{record.path} [face {record.extras['index'] + 1} of {self.mat_path.name}]"


def _permutation_fault(order: np.ndarray) -> str:
    """What keeps ``order`` from being a permutation of 1..len(order): the first value out of range, or repeated."""
    total = len(order)
    for position, value in enumerate(order.tolist(), start=1):
        if not (float(value).is_integer() and 1 <= value <= total):
            return f"entry {position} is {value:g}"
    values, counts = np.unique(order, return_counts=True)
    return f"{values[counts > 1][0]:g} appears {counts[counts > 1][0]} times"


__all__ = ["AFLW19"]
