"""The COFW benchmark (Burgos-Artizzu et al., ICCV 2013), 29 landmarks with occlusion flags.

Files (the colour release, as read by HRNet's and PIPNet's COFW code)::

    root/COFW_train_color.mat   IsTr (1345×1 cell of images), phisTr (1345×87), bboxesTr (1345×4)
    root/COFW_test_color.mat    IsT  (507×1 cell of images),  phisT  (507×87),  bboxesT  (507×4)

Both MATLAB layouts are read: v7.3 (HDF5) as distributed, and v5. Each row of ``phis`` is
``[x_1..x_29, y_1..y_29, o_1..o_29]`` with ``o = 1`` for an occluded point; each ``bboxes`` row is
``[left, top, width, height]`` (RCPR's ``shapeGt.m``, ``demoRCPR.m``). Coordinates are MATLAB pixel coordinates
(1-based: RCPR indexes image pixels with them directly), so 1 is subtracted. Images are stored RGB; some are
grayscale, which ffld refuses unless ``convert=True``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ffld.data.base import DatasetError, FaceRecord, LandmarkDataset, OnError, check_choice, check_landmarks
from ffld.data.image import ImageFileError, to_rgb8
from ffld.data.matfile import read_mat
from ffld.data.specs import COFW29, LandmarkSpec


class COFW(LandmarkDataset):
    """COFW faces of one split.

    Args:
        root: folder holding ``COFW_train_color.mat`` and ``COFW_test_color.mat``.
        split: ``"train"`` (1345 faces) or ``"test"`` (507 faces).
        on_error, convert, check_images, transform: see :class:`~ffld.data.base.LandmarkDataset`.

    Raises:
        DatasetError: for an unknown split, a missing file, missing fields, or fields of inconsistent size.

    Items: ``image``, ``landmarks`` (29, 2), ``path`` (the ``.mat`` file), ``box`` (the dataset's box),
    ``occluded`` ((29,) bool), ``index`` (0-based position in the file).
    """

    spec: ClassVar[LandmarkSpec] = COFW29
    FILES: ClassVar[dict[str, tuple[str, str, str, str]]] = {
        "train": ("COFW_train_color.mat", "IsTr", "phisTr", "bboxesTr"),
        "test": ("COFW_test_color.mat", "IsT", "phisT", "bboxesT"),
    }
    OFFICIAL_SIZES: ClassVar[dict[str, int]] = {"train": 1345, "test": 507}

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
        check_choice("COFW split", split, sorted(self.FILES))
        name, images_field, phis_field, boxes_field = self.FILES[split]
        self.path = Path(root) / name
        self.split = split
        fields = read_mat(self.path, [images_field, phis_field, boxes_field])
        images, phis, boxes = fields[images_field], np.asarray(fields[phis_field]), np.asarray(fields[boxes_field])
        n = self.spec.num_points
        if not isinstance(images, list):
            raise DatasetError(f"{self.path}: {images_field} is not a cell array of images")
        rows = f"one row per image of {images_field}, which holds {len(images)}"
        for field, array, columns in ((phis_field, phis, 3 * n), (boxes_field, boxes, 4)):
            if array.shape != (len(images), columns):
                expected = f"({len(images)}, {columns}) ({rows})"
                raise DatasetError(f"{self.path}: {field} has shape {array.shape}, expected {expected}")
        self._images = images
        self.finish(
            self.attempt(f"{self.path} [face {i + 1}]", partial(self._record, i, phis[i], boxes[i]))
            for i in range(len(images))
        )

    def _record(self, index: int, phis: np.ndarray, box: np.ndarray) -> FaceRecord:
        n = self.spec.num_points
        landmarks = check_landmarks(np.stack([phis[:n], phis[n : 2 * n]], axis=1) - 1.0, n)
        occlusion = phis[2 * n :]
        if not np.isin(occlusion, (0, 1)).all():
            raise ValueError("occlusion flags must be 0 or 1")
        if not np.isfinite(box).all() or box[2] <= 0 or box[3] <= 0:
            raise ValueError(f"bad box [left, top, width, height] = {box.tolist()}")
        left, top = box[0] - 1.0, box[1] - 1.0
        corners = np.array([left, top, left + box[2], top + box[3]], dtype=np.float32)
        extras = {"occluded": occlusion.astype(bool), "index": index}
        return FaceRecord(path=str(self.path), landmarks=landmarks, box=corners, extras=extras)

    def locate(self, record: FaceRecord) -> str:
        return f"{record.path} [face {record.extras['index'] + 1}]"

    def load_image(self, record: FaceRecord) -> np.ndarray:
        image = self._images[record.extras["index"]]
        if not isinstance(image, np.ndarray):
            raise ImageFileError(f"{self.locate(record)}: cell holds {type(image).__name__}, not an image")
        return to_rgb8(image, self.locate(record), convert=self.convert, channel_order="RGB")


__all__ = ["COFW"]
