"""Image degradations of faces in the wild (the 300W "challenge" subset is full of them): blur (defocus or
motion), low resolution, sensor noise and JPEG compression, and the encoding of the stored file."""

from __future__ import annotations

import cv2
import numpy as np

from ffld.data.synthetic.config import SplitConfig

# Fast PNG settings (about 1.3 ms for 256×256 instead of 3 ms at the default level, files about 10 % larger).
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]


def _motion_kernel(length: int, angle: float) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    d = np.array([np.cos(angle), np.sin(angle)]) * (length - 1) / 2
    start, end = np.round((c - d) * 16).astype(int), np.round((c + d) * 16).astype(int)
    cv2.line(kernel, tuple(map(int, start)), tuple(map(int, end)), 1.0, 1, cv2.LINE_AA, 4)
    return kernel / kernel.sum()


def degrade(
    rng: np.random.Generator, image: np.ndarray, split: SplitConfig
) -> tuple[np.ndarray, bytes, str, dict[str, float | None]]:
    """Degrade a rendered image as drawn for ``split`` and encode it.

    Args:
        rng: the image's generator.
        image: H×W×3 float32 RGB in 0-255.
        split: the probabilities of each degradation.

    Returns:
        (image, data, extension, info): the stored H'×W'×3 uint8 RGB image (decoded from ``data`` for JPEG), the
        file's bytes, ".png" or ".jpg", and what was applied: ``blur`` (Gaussian sigma, px), ``motion_blur``
        (kernel length, px), ``downscale`` (factor), ``noise`` (sigma, 8-bit levels), ``jpeg_quality``; None
        for what was not applied.
    """
    draws = rng.uniform(size=5)
    info: dict[str, float | None] = dict.fromkeys(("blur", "motion_blur", "downscale", "noise", "jpeg_quality"))
    if draws[0] < split.blur_prob:
        if rng.uniform() < 0.3:
            length = int(rng.integers(5, 12))
            image = cv2.filter2D(image, -1, _motion_kernel(length, rng.uniform(0, np.pi)))
            info["motion_blur"] = float(length)
        else:
            sigma = rng.uniform(0.8, 2.2)
            image = cv2.GaussianBlur(image, (0, 0), sigma)
            info["blur"] = sigma
    if draws[1] < split.lowres_prob:
        size = image.shape[0]
        small = round(size / rng.uniform(2.0, 4.0))
        image = cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA)
        info["downscale"] = size / small
    if draws[2] < split.noise_prob:
        sigma = rng.uniform(3.0, 10.0)
        image = image + sigma * rng.standard_normal(image.shape, dtype=np.float32)
        info["noise"] = sigma
    stored = np.clip(np.round(image), 0, 255).astype(np.uint8)
    bgr = np.ascontiguousarray(stored[:, :, ::-1])
    if draws[3] < split.jpeg_prob:
        quality = int(rng.integers(15, 51))
        data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
        stored = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
        info["jpeg_quality"] = float(quality)
        return np.ascontiguousarray(stored), data, ".jpg", info
    data = cv2.imencode(".png", bgr, _PNG)[1].tobytes()
    return stored, data, ".png", info


__all__ = ["degrade"]
