"""The WFLW benchmark (Wu et al., CVPR 2018, LAB), 98 landmarks with six attribute flags.

Layout (the official archives ``WFLW_annotations`` and ``WFLW_images``, as read by PIPNet's ``preprocess.py``)::

    root/WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_train.txt   (7500 faces)
    root/WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_test.txt    (2500 faces)
    root/WFLW_images/<event folder>/<image>.jpg

Each annotation line has 207 space-separated fields: 196 coordinates ``x_1 y_1 ... x_98 y_98``, the face box
``x_min y_min x_max y_max``, six 0/1 attribute flags in the order pose, expression, illumination, make-up,
occlusion, blur, and the image path relative to ``WFLW_images``. The six attribute subsets of the test set
(``list_98pt_test/list_98pt_test_{largepose,expression,illumination,makeup,occlusion,blur}.txt`` in the
archive: 326, 314, 698, 206, 736, 773 faces) are the test lines whose flag is 1; ffld selects them by the flag.
Coordinates are used as given (0-based).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ffld.data.base import DatasetError, FaceRecord, LandmarkDataset, OnError, check_choice, check_landmarks
from ffld.data.specs import WFLW98, LandmarkSpec

ATTRIBUTES = ("largepose", "expression", "illumination", "makeup", "occlusion", "blur")


class WFLW(LandmarkDataset):
    """WFLW faces of one split, optionally one attribute subset.

    Args:
        root: folder holding ``WFLW_annotations`` and ``WFLW_images``.
        split: ``"train"`` or ``"test"``.
        subset: None for all faces, or one of ``"largepose"``, ``"expression"``, ``"illumination"``,
            ``"makeup"``, ``"occlusion"``, ``"blur"`` (the faces with that attribute flag set).
        on_error, convert, check_images, transform: see :class:`~ffld.data.base.LandmarkDataset`.

    Raises:
        DatasetError: for an unknown split or subset, or a missing annotation file or image folder.

    Items: ``image``, ``landmarks`` (98, 2), ``path``, ``box`` (the dataset's box), ``attributes`` ((6,) bool in
    the order of ``ATTRIBUTES``).
    """

    spec: ClassVar[LandmarkSpec] = WFLW98
    SPLITS: ClassVar[tuple[str, ...]] = ("train", "test")
    OFFICIAL_SIZES: ClassVar[dict[str, int]] = {
        "train": 7500,
        "test": 2500,
        "largepose": 326,
        "expression": 314,
        "illumination": 698,
        "makeup": 206,
        "occlusion": 736,
        "blur": 773,
    }

    def __init__(
        self,
        root: str | os.PathLike,
        split: str,
        subset: str | None = None,
        *,
        on_error: OnError = "raise",
        convert: bool = False,
        check_images: bool = False,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(on_error=on_error, convert=convert, check_images=check_images, transform=transform)
        check_choice("WFLW split", split, self.SPLITS)
        check_choice("WFLW subset", subset, [None, *ATTRIBUTES])
        self.root = Path(root)
        self.split, self.subset = split, subset
        self.annotation_path = (
            self.root / "WFLW_annotations" / "list_98pt_rect_attr_train_test" / f"list_98pt_rect_attr_{split}.txt"
        )
        self.image_root = self.root / "WFLW_images"
        if not self.annotation_path.is_file():
            raise DatasetError(f"{self.annotation_path}: WFLW annotation file not found")
        if not self.image_root.is_dir():
            raise DatasetError(f"{self.image_root}: WFLW image folder not found")
        try:
            lines = self.annotation_path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise DatasetError(f"{self.annotation_path}: cannot read ({error})") from error
        records = (
            self.attempt(f"{self.annotation_path}:{number}", partial(self._record, line, number))
            for number, line in enumerate(lines, start=1)
            if line.strip()
        )
        self.finish(
            record
            for record in records
            if record is None or subset is None or record.extras["attributes"][ATTRIBUTES.index(subset)]
        )

    def _record(self, line: str, number: int) -> FaceRecord:
        n = self.spec.num_points
        fields = line.split()
        if len(fields) != 2 * n + 4 + 6 + 1:
            raise ValueError(f"expected {2 * n + 11} fields (coordinates, box, attributes, image), got {len(fields)}")
        numbers = np.array([_field(fields, k, float, "a number") for k in range(2 * n + 4)])
        flags = np.array([_field(fields, k, int, "an integer flag") for k in range(2 * n + 4, 2 * n + 10)])
        landmarks = check_landmarks(numbers[: 2 * n].reshape(n, 2), n)
        box = numbers[2 * n :]
        if not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
            raise ValueError(f"bad box [x_min, y_min, x_max, y_max] = {box.tolist()}")
        if not np.isin(flags, (0, 1)).all():
            raise ValueError(f"attribute flags must be 0 or 1, got {flags.tolist()}")
        image = self.image_root / fields[-1]
        if not image.is_file():
            raise ValueError(f"image {image} not found")
        extras = {"attributes": flags.astype(bool), "line": number}
        return FaceRecord(path=str(image), landmarks=landmarks, box=box.astype(np.float32), extras=extras)

    def locate(self, record: FaceRecord) -> str:
        """The image, and the annotation line of the face (an image may hold several)."""
        return f"{record.path} [{self.annotation_path.name}:{record.extras['line']}]"


def _field(fields: list[str], k: int, kind: type, what: str) -> float | int:
    """Field ``k`` (0-based) of an annotation line read as ``kind``; the error names it 1-based, as an editor does."""
    try:
        return kind(fields[k])
    except ValueError:
        raise ValueError(f"field {k + 1} is {fields[k]!r}, not {what}") from None


__all__ = ["ATTRIBUTES", "WFLW"]
