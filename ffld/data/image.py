"""Loading images for the datasets: always H×W×3 uint8 RGB, or a clear error that names the file."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np


class ImageFileError(ValueError):
    """An image that cannot be used as it is; the message names the file and the problem."""


_JPEG_END = b"\xff\xd9"
_PNG_END = b"IEND\xaeB`\x82"


def _check_complete(path: Path, data: bytes) -> None:
    """Reject JPEG and PNG files cut short (OpenCV decodes those partially, with only a warning)."""
    if data[:3] == b"\xff\xd8\xff" and _JPEG_END not in data[-64:]:
        raise ImageFileError(f"{path}: truncated JPEG (no end-of-image marker)")
    if data[:8] == b"\x89PNG\r\n\x1a\n" and not data.rstrip(b"\x00").endswith(_PNG_END):
        raise ImageFileError(f"{path}: truncated PNG (no IEND chunk)")


def decode_image(data: bytes, path: str | os.PathLike, convert: bool = False) -> np.ndarray:
    """Decode encoded image bytes (JPEG, PNG, ...) read from ``path``; see :func:`load_image`."""
    path = Path(path)
    _check_complete(path, data)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageFileError(f"{path}: not a readable image")
    return to_rgb8(image, path, convert=convert, channel_order="BGR")


def to_rgb8(
    image: np.ndarray, path: str | os.PathLike, convert: bool = False, channel_order: str = "RGB"
) -> np.ndarray:
    """Check (and with ``convert=True``, convert) a decoded image to H×W×3 uint8 RGB.

    Args:
        image: H×W, H×W×1, H×W×3 or H×W×4 array as decoded.
        path: where it came from, for the error message.
        convert: convert grayscale (replicated), 4-channel (alpha dropped) and 16-bit (scaled by 1/257) images
            instead of refusing them.
        channel_order: "BGR" for OpenCV's decoders, "RGB" for arrays already in RGB order.

    Raises:
        ImageFileError: naming the file, for grayscale, 16-bit or 4-channel input when ``convert`` is False,
            and for any other dtype or shape.
    """
    path = Path(path)
    if image.dtype == np.uint16:
        if not convert:
            raise ImageFileError(
                f"{path}: 16-bit image; ffld expects 8-bit RGB (convert=True, or --convert, scales it)"
            )
        image = (image.astype(np.float64) / 257.0).round().astype(np.uint8)
    if image.dtype != np.uint8:
        raise ImageFileError(f"{path}: unsupported pixel type {image.dtype}; ffld expects 8-bit RGB")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        if not convert:
            raise ImageFileError(
                f"{path}: grayscale image; ffld expects RGB (convert=True, or --convert, replicates it)"
            )
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ImageFileError(f"{path}: unsupported image shape {image.shape}; ffld expects H×W×3")
    if image.shape[2] == 4:
        if not convert:
            raise ImageFileError(f"{path}: 4-channel image; ffld expects RGB (convert=True, or --convert, drops alpha)")
        image = image[:, :, :3]
    if channel_order == "BGR":
        image = image[:, :, ::-1]
    return np.ascontiguousarray(image)


def load_image(path: str | os.PathLike, convert: bool = False, name: str | None = None) -> np.ndarray:
    """Load an image file as H×W×3 uint8 RGB.

    Args:
        path: the image file.
        convert: accept grayscale, 16-bit and 4-channel files by converting them (see :func:`to_rgb8`).
        name: how error messages name the image (default: ``path``), e.g. with the face's annotation line.

    Raises:
        ImageFileError: naming the file, if it is missing, unreadable, truncated, or (without ``convert``)
            grayscale, 16-bit or 4-channel.
    """
    name = str(path) if name is None else name
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ImageFileError(f"{name}: cannot read image ({error.strerror or error})") from error
    return decode_image(data, name, convert=convert)


__all__ = ["ImageFileError", "decode_image", "load_image", "to_rgb8"]
