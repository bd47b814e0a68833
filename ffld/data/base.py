"""What every benchmark reader shares: the face record, the item dict, and one way of reporting bad input.

A reader indexes its dataset when it is built: it parses every annotation, checks that every image file exists,
and (with ``check_images=True``) decodes every image. A problem with one face (a malformed ``.pts``, NaN
coordinates, a face box without area, coinciding outer eye corners, a missing or unreadable image, ...) raises an
error that names the file and the problem, or, with ``on_error="skip"``, leaves that face out and records it in
``dataset.skipped``; a warning then gives the count.
Problems with the dataset as a whole (a missing folder, a ``.mat`` without its fields) always raise
:class:`DatasetError`. An image that fails to decode in ``__getitem__`` raises
:class:`~ffld.data.image.ImageFileError`. A landmark further outside its image than half the image's larger side
(:func:`check_on_image`) is found when the image is decoded: while indexing with ``check_images=True`` (named, or
skipped, like the problems above), else in ``__getitem__`` (:class:`~ffld.data.pts.LandmarkFileError`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
import torch.utils.data

from ffld.data.image import ImageFileError, load_image
from ffld.data.pts import LandmarkFileError
from ffld.data.specs import LandmarkSpec

OnError = Literal["raise", "skip"]
T = TypeVar("T")


class DatasetError(ValueError):
    """A dataset that cannot be read as a whole (missing folder or file, missing ``.mat`` field, ...)."""


@dataclass(frozen=True)
class Problem:
    """One face left out by ``on_error="skip"``: the file (with the place in it, where it holds several faces) and
    what is wrong."""

    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclass(frozen=True)
class FaceRecord:
    """One annotated face.

    Attributes:
        path: the file the image comes from (image file, ``.mat`` file or video), reported as ``item["path"]``.
        landmarks: (N, 2) float32 0-based ``(x, y)``.
        box: (4,) float32 ``(x0, y0, x1, y1)``: the dataset's face box, or the landmarks' bounding box where the
            dataset has none.
        extras: further item entries (``occluded``, ``visible``, ``attributes``, ``frame``, ``video``, ``index``).
    """

    path: str
    landmarks: np.ndarray
    box: np.ndarray
    extras: Mapping[str, Any] = field(default_factory=dict)


def check_landmarks(points: np.ndarray, num_points: int) -> np.ndarray:
    """Return ``points`` as (N, 2) float32 after checking the shape and that every coordinate is finite.

    Raises:
        ValueError: naming the first bad point (callers add the file).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (num_points, 2):
        raise ValueError(f"expected {num_points} points, got an array of shape {points.shape}")
    finite = np.isfinite(points).all(axis=1)
    if not finite.all():
        raise ValueError(f"point {int(np.flatnonzero(~finite)[0]) + 1} has a NaN or infinite coordinate")
    return points.astype(np.float32)


def check_face_geometry(record: FaceRecord, spec: LandmarkSpec) -> None:
    """Check that a face can be cropped and scored: its box has an area, and its outer eye corners (the inter-ocular
    normaliser, ``spec.outer_eye_corners``) do not coincide where both are marked visible.

    Raises:
        ValueError: naming the problem (callers add the file).
    """
    x0, y0, x1, y1 = (float(v) for v in record.box)
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"the face box (x0, y0, x1, y1) = ({x0:g}, {y0:g}, {x1:g}, {y1:g}) has no area")
    i, j = spec.outer_eye_corners
    visible = record.extras.get("visible")
    if (visible is None or (visible[i] and visible[j])) and np.array_equal(record.landmarks[i], record.landmarks[j]):
        raise ValueError(f"the outer eye corners (points {i + 1} and {j + 1}) coincide: the inter-ocular distance is 0")


def check_on_image(landmarks: np.ndarray, height: int, width: int) -> None:
    """Check that no landmark lies further outside its image, along x or y, than half the image's larger side.

    Faces at the border of an image have points a little outside it (the chin below the frame, say), and those are
    kept; a point further out than ``max(height, width) / 2`` is a wrong coordinate (a typo, a wrong scale or
    origin), which would stretch the crop box built from the landmarks and spoil the face's training or score.

    Args:
        landmarks: (N, 2) ``(x, y)`` pixel coordinates, 0-based; the image covers ``[0, width] × [0, height]``.

    Raises:
        ValueError: naming the first such point, 1-based as in ``.pts`` files (callers add the file).
    """
    points = np.asarray(landmarks, dtype=np.float64)
    outside = np.maximum(np.maximum(-points, points - (width, height)), 0).max(axis=1)  # (N,) distance out, in px
    limit = max(height, width) / 2
    if (outside > limit).any():
        k = int(np.flatnonzero(outside > limit)[0])
        x, y = points[k]
        raise ValueError(
            f"point {k + 1} at ({x:g}, {y:g}) (0-based) lies {outside[k]:g} px outside the {width}×{height} image, "
            f"more than half its larger side ({limit:g} px): a wrong coordinate?"
        )


def check_choice(what: str, value: Any, choices: Iterable[Any]) -> None:
    """Raise a :class:`DatasetError` naming ``what`` (e.g. "300W subset") when ``value`` is not one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        raise DatasetError(f"unknown {what} {value!r}; expected one of {choices}")


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    """(4,) float32 bounding box ``(x0, y0, x1, y1)`` of (N, 2) landmarks."""
    landmarks = np.asarray(landmarks)
    return np.concatenate([landmarks.min(axis=0), landmarks.max(axis=0)]).astype(np.float32)


class LandmarkDataset(torch.utils.data.Dataset):
    """Base of the benchmark readers: a list of :class:`FaceRecord` and the item they give.

    Subclasses set ``spec`` and build their records through :meth:`attempt` and :meth:`finish`.

    Args:
        on_error: ``"raise"`` (default) to stop at the first bad face, ``"skip"`` to leave it out and report it
            in :attr:`skipped`.
        convert: accept grayscale, 16-bit and 4-channel images by converting them to RGB (otherwise refused).
        check_images: decode every image while indexing, so that unreadable ones are found up front.
        transform: applied to each item dict before it is returned (e.g. :class:`ffld.data.facecrop.CropFace`).

    Attributes:
        records: the faces, in a deterministic order.
        skipped: the faces left out, as :class:`Problem` (only with ``on_error="skip"``).
    """

    spec: ClassVar[LandmarkSpec]

    def __init__(
        self,
        *,
        on_error: OnError = "raise",
        convert: bool = False,
        check_images: bool = False,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.on_error: OnError = on_error
        self.convert = convert
        self.check_images = check_images
        self.transform = transform
        self.records: list[FaceRecord] = []
        self.skipped: list[Problem] = []

    # -- building ------------------------------------------------------------------------------------------------

    def attempt(self, where: str | Path, action: Callable[[], T]) -> T | None:
        """Run ``action`` for the face at ``where`` (a :class:`FaceRecord` it returns must pass
        :func:`check_face_geometry`); on bad input raise an error naming ``where`` (``on_error="raise"``)
        or record a :class:`Problem` and return None (``on_error="skip"``)."""
        try:
            result = action()
            if isinstance(result, FaceRecord):
                check_face_geometry(result, self.spec)
            return result
        except DatasetError:
            raise
        except (LandmarkFileError, ImageFileError, ValueError) as error:
            where = str(where)
            message = str(error)
            named = message.startswith(f"{where}: ")
            problem = message[len(where) + 2 :] if named else message
            if self.on_error == "skip":
                self.skipped.append(Problem(where, problem))
                return None
            if named:
                raise
            kind = type(error) if isinstance(error, LandmarkFileError | ImageFileError) else LandmarkFileError
            raise kind(f"{where}: {problem}") from error

    def finish(self, records: Iterable[FaceRecord | None]) -> None:
        """Keep the records that were read, check their images, and warn once about what was skipped."""
        kept = [record for record in records if record is not None]
        if self.check_images:
            kept = [r for r in kept if self.attempt(self.locate(r), partial(self.checked_image, r)) is not None]
        self.records = kept
        if self.skipped:
            warnings.warn(
                f"{type(self).__name__}: skipped {len(self.skipped)} face(s) with bad input; "
                "see the dataset's .skipped for each file and problem",
                stacklevel=3,
            )

    # -- reading -------------------------------------------------------------------------------------------------

    def locate(self, record: FaceRecord) -> str:
        """Where a record comes from, for messages and ``item["source"]``: the image file, plus the face's place
        in it or in the annotations where a file holds several faces."""
        return record.path

    def load_image(self, record: FaceRecord) -> np.ndarray:
        """H×W×3 uint8 RGB image of a record (default: the image file at ``record.path``); an
        :class:`~ffld.data.image.ImageFileError` names the face as :meth:`locate` does."""
        return load_image(record.path, convert=self.convert, name=self.locate(record))

    def checked_image(self, record: FaceRecord) -> np.ndarray:
        """:meth:`load_image`, after :func:`check_on_image` on the record's landmarks.

        Raises:
            LandmarkFileError: a landmark lies far outside the image; the message names the face as
                :meth:`locate` does.
        """
        image = self.load_image(record)
        try:
            check_on_image(record.landmarks, *image.shape[:2])
        except ValueError as error:
            raise LandmarkFileError(f"{self.locate(record)}: {error}") from None
        return image

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Item dict: ``image`` (H×W×3 uint8 RGB), ``landmarks`` ((N, 2) float32), ``path`` (str), ``source``
        (str, :meth:`locate`), ``box`` ((4,) float32 ``x0, y0, x1, y1``) and the record's extras."""
        record = self.records[index]
        item: dict[str, Any] = {
            "image": self.checked_image(record),
            "landmarks": record.landmarks.copy(),
            "path": record.path,
            "source": self.locate(record),
            "box": record.box.copy(),
        }
        for key, value in record.extras.items():
            item[key] = value.copy() if isinstance(value, np.ndarray) else value
        return self.transform(item) if self.transform is not None else item


__all__ = [
    "DatasetError",
    "FaceRecord",
    "LandmarkDataset",
    "OnError",
    "Problem",
    "check_choice",
    "check_face_geometry",
    "check_landmarks",
    "check_on_image",
    "landmark_box",
]
