"""The 300VW video benchmark (Shen et al., 2015), 68 iBUG landmarks per frame.

Layout (the official ``300VW_Dataset_2015_12_14`` archive)::

    root/<NNN>/vid.avi
    root/<NNN>/annot/000001.pts, 000002.pts, ...   (one .pts per frame, 1-based frame numbers)

Frames are decoded with OpenCV, sequentially where possible and by seeking otherwise (tests check that a seek in
an inter-coded XVID AVI lands on the frame sequential decoding gives). The three test categories and the 50
training videos are the lists used by the 300VW evaluation in OpenFace (``CollectTestData.m``) and SAN
(``generate_300VW.py``): category 1 has 31 videos, category 2 has 19, category 3 has 14 (the paper's Sect. 6.1:
"114 videos in total including 64 videos for validation", the 64 being these three test categories).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from ffld.data.base import (
    DatasetError,
    FaceRecord,
    LandmarkDataset,
    OnError,
    check_choice,
    check_landmarks,
    landmark_box,
)
from ffld.data.image import ImageFileError, to_rgb8
from ffld.data.pts import read_pts
from ffld.data.specs import IBUG68, LandmarkSpec

CATEGORIES: dict[int | str, tuple[str, ...]] = {
    1: tuple(
        f"{v:03d}"
        for v in (114, 124, 125, 126, 150, 158, 401, 402, 505, 506, 507, 508, 509, 510, 511, 514,
                  515, 518, 519, 520, 521, 522, 524, 525, 537, 538, 540, 541, 546, 547, 548)
    ),
    2: tuple(
        f"{v:03d}"
        for v in (203, 208, 211, 212, 213, 214, 218, 224, 403, 404, 405, 406, 407, 408, 409, 412, 550, 551, 553)
    ),
    3: tuple(f"{v:03d}" for v in (410, 411, 516, 517, 526, 528, 529, 530, 531, 533, 557, 558, 559, 562)),
    "train": tuple(
        f"{v:03d}"
        for v in (9, 59, 2, 33, 20, 35, 18, 119, 120, 25, 205, 47, 7, 13, 4, 143, 34, 28, 53, 225, 41, 10, 31, 46,
                  49, 11, 27, 3, 16, 160, 113, 1, 29, 43, 112, 138, 144, 204, 57, 15, 44, 48, 17, 115, 223, 37,
                  123, 19, 39, 22)
    ),
}  # fmt: skip


class VW300(LandmarkDataset):
    """300VW annotated frames of one video list.

    Args:
        root: the 300VW folder (holding one folder per video).
        category: 1, 2 or 3 (the test categories) or ``"train"`` (the 50 training videos).
        on_error, convert, check_images, transform: see :class:`~ffld.data.base.LandmarkDataset`.
            ``check_images=True`` decodes every annotated frame (slow on the full dataset).

    Raises:
        DatasetError: for an unknown category or a missing video folder, video or ``annot`` folder.

    Items: ``image`` (the decoded frame), ``landmarks`` (68, 2), ``path`` (the video file), ``box`` (landmark
    bounding box), ``video`` (the video's folder name), ``frame`` (0-based frame index).
    """

    spec: ClassVar[LandmarkSpec] = IBUG68

    def __init__(
        self,
        root: str | os.PathLike,
        category: int | str,
        *,
        on_error: OnError = "raise",
        convert: bool = False,
        check_images: bool = False,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(on_error=on_error, convert=convert, check_images=check_images, transform=transform)
        check_choice("300VW category", category, CATEGORIES)
        self.root = Path(root)
        self.category = category
        self._capture: tuple[int, str, cv2.VideoCapture] | None = None
        self._next_frame = -1
        records: list[FaceRecord | None] = []
        for video in CATEGORIES[category]:
            folder = self.root / video
            video_path, annot = folder / "vid.avi", folder / "annot"
            for needed in (folder, annot):
                if not needed.is_dir():
                    raise DatasetError(f"{needed}: 300VW folder not found (needed for category {category!r})")
            if not video_path.is_file():
                raise DatasetError(f"{video_path}: 300VW video not found")
            frame_count = self._frame_count(video_path)
            annotations = sorted(annot.glob("*.pts"))
            if not annotations:
                raise DatasetError(f"{annot}: no .pts annotation (needed for category {category!r})")
            _warn_of_unannotated_frames(annot, annotations)
            for pts in annotations:
                records.append(self.attempt(pts, partial(self._record, pts, video, video_path, frame_count)))
        self.finish(records)

    @staticmethod
    def _frame_count(video_path: Path) -> int:
        capture = cv2.VideoCapture(str(video_path))
        try:
            if not capture.isOpened():
                raise DatasetError(f"{video_path}: OpenCV cannot open the video")
            return int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        finally:
            capture.release()

    def _record(self, pts: Path, video: str, video_path: Path, frame_count: int) -> FaceRecord:
        if not (len(pts.stem) == 6 and pts.stem.isdigit() and int(pts.stem) >= 1):
            raise ValueError("annotation name is not a 6-digit 1-based frame number (e.g. 000001.pts)")
        frame = int(pts.stem) - 1
        if frame >= frame_count:
            raise ValueError(f"frame {frame + 1} is past the end of {video_path} ({frame_count} frames)")
        landmarks = check_landmarks(read_pts(pts, num_points=self.spec.num_points), self.spec.num_points)
        extras = {"video": video, "frame": frame}
        return FaceRecord(path=str(video_path), landmarks=landmarks, box=landmark_box(landmarks), extras=extras)

    def locate(self, record: FaceRecord) -> str:
        return f"{record.path} [frame {record.extras['frame'] + 1}]"

    def load_image(self, record: FaceRecord) -> np.ndarray:
        """Decode the record's frame; reads on without seeking when frames are visited in order.

        The open capture is tied to the process id, so a copy of the dataset in a DataLoader worker opens its own.
        """
        frame = record.extras["frame"]
        if self._capture is None or self._capture[:2] != (os.getpid(), record.path):
            if self._capture is not None:
                self._capture[2].release()
            self._capture = (os.getpid(), record.path, cv2.VideoCapture(record.path))
            self._next_frame = 0
        capture = self._capture[2]
        if frame != self._next_frame:
            capture.set(cv2.CAP_PROP_POS_FRAMES, frame)
        ok, image = capture.read()
        self._next_frame = frame + 1 if ok else -1
        if not ok or image is None:
            raise ImageFileError(f"{self.locate(record)}: OpenCV cannot decode this frame")
        return to_rgb8(image, self.locate(record), convert=self.convert, channel_order="BGR")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_capture"], state["_next_frame"] = None, -1
        return state


def _warn_of_unannotated_frames(annot: Path, annotations: list[Path]) -> None:
    """Warn when the frame numbers of ``annot``'s ``.pts`` files skip some: 300VW annotates every frame, so a gap is
    a lost file, and those frames would go unscored without a word."""
    numbers = {int(path.stem) for path in annotations if path.stem.isdigit()}
    missing = sorted(set(range(1, max(numbers, default=0) + 1)) - numbers)
    if missing:
        warnings.warn(
            f"{annot}: no annotation for {len(missing)} of frames 1..{max(numbers)} (the first: "
            f"{missing[0]:06d}.pts); those frames are not scored",
            stacklevel=4,
        )


__all__ = ["CATEGORIES", "VW300"]
