"""The 300W benchmark (Sagonas et al., 2013) with the usual protocol (Ren et al., 2014; paper Sect. 6.1).

Layout (as distributed on the iBUG 300W site and read the same way by PIPNet's ``preprocess.py``)::

    root/afw/*.jpg + *.pts
    root/helen/trainset/*.jpg + *.pts      root/helen/testset/*.jpg + *.pts
    root/lfpw/trainset/*.png + *.pts       root/lfpw/testset/*.png + *.pts
    root/ibug/*.jpg + *.pts

Each ``.pts`` annotates one face of the image with the same stem (68 points, 1-based, see :mod:`ffld.data.pts`).
Subsets: ``train`` = afw + helen/trainset + lfpw/trainset (3148 faces); ``common`` = helen/testset +
lfpw/testset (554); ``challenge`` = ibug (135); ``full`` = common + challenge (689). 300W has no box in these
folders, so ``box`` is the landmarks' bounding box.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from ffld.data.base import (
    DatasetError,
    FaceRecord,
    LandmarkDataset,
    OnError,
    check_choice,
    check_landmarks,
    landmark_box,
)
from ffld.data.pts import read_pts
from ffld.data.specs import IBUG68, LandmarkSpec

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def annotated_images(folder: Path) -> tuple[list[tuple[Path, Path]], list[Path], list[Path]]:
    """Pair the ``.pts`` files of an iBUG-style folder with their images (same stem).

    Returns:
        ``(pairs, pts_without_image, images_without_pts)``, each sorted by file name.
    """
    files = sorted(folder.iterdir())
    images = {f.stem: f for f in files if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()}
    annotations = [f for f in files if f.suffix.lower() == ".pts" and f.is_file()]
    pairs = [(images[f.stem], f) for f in annotations if f.stem in images]
    orphans = [f for f in annotations if f.stem not in images]
    stems = {f.stem for f in annotations}
    unannotated = [image for stem, image in sorted(images.items()) if stem not in stems]
    return pairs, orphans, unannotated


class W300(LandmarkDataset):
    """300W faces of one subset.

    Args:
        root: the 300W folder (holding ``afw``, ``helen``, ``lfpw``, ``ibug``).
        subset: ``"train"``, ``"common"``, ``"challenge"`` or ``"full"``.
        on_error, convert, check_images, transform: see :class:`~ffld.data.base.LandmarkDataset`.

    Raises:
        DatasetError: for an unknown subset or a missing folder.
        LandmarkFileError, ImageFileError: for a bad face with ``on_error="raise"``; a ``.pts`` without an image
            and an image without a ``.pts`` count as bad faces too.

    Items: ``image``, ``landmarks`` (68, 2), ``path``, ``box`` (landmark bounding box).
    """

    spec: ClassVar[LandmarkSpec] = IBUG68
    SUBSETS: ClassVar[dict[str, tuple[str, ...]]] = {
        "train": ("afw", "helen/trainset", "lfpw/trainset"),
        "common": ("helen/testset", "lfpw/testset"),
        "challenge": ("ibug",),
        "full": ("helen/testset", "lfpw/testset", "ibug"),
    }
    OFFICIAL_SIZES: ClassVar[dict[str, int]] = {"train": 3148, "common": 554, "challenge": 135, "full": 689}

    def __init__(
        self,
        root: str | os.PathLike,
        subset: str,
        *,
        on_error: OnError = "raise",
        convert: bool = False,
        check_images: bool = False,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(on_error=on_error, convert=convert, check_images=check_images, transform=transform)
        check_choice("300W subset", subset, sorted(self.SUBSETS))
        self.root = Path(root)
        self.subset = subset
        folders = [self.root / name for name in self.SUBSETS[subset]]
        for folder in folders:
            if not folder.is_dir():
                raise DatasetError(f"{folder}: 300W folder not found (needed for subset {subset!r})")
        records: list[FaceRecord | None] = []
        for folder in folders:
            pairs, orphans, unannotated = annotated_images(folder)
            for pts in orphans:
                records.append(self.attempt(pts, partial(_fail, "no image file with the same name")))
            for image in unannotated:
                records.append(self.attempt(image, partial(_fail, "image without a .pts annotation")))
            for image, pts in pairs:
                records.append(self.attempt(pts, partial(self._record, image, pts)))
        self.finish(records)

    def _record(self, image: Path, pts: Path) -> FaceRecord:
        landmarks = check_landmarks(read_pts(pts, num_points=self.spec.num_points), self.spec.num_points)
        return FaceRecord(path=str(image), landmarks=landmarks, box=landmark_box(landmarks))


def _fail(problem: str) -> None:
    raise ValueError(problem)


__all__ = ["W300", "annotated_images"]
