"""Procedural textures: cluttered backgrounds, hair strands, fabric.

All return planar float32 images of shape (3, height, width) in 0-255 (the renderer composites planes: much
faster than interleaved RGB in numpy). Backgrounds mimic the clutter behind faces in the wild (300W, COFW): a
colour gradient, a mottled texture and a random number of overlapping shapes (boxes, discs, bars, polygons,
striped panels), slightly out of focus. Colours come from the image's palette, which keeps away from the skin.
"""

from __future__ import annotations

import cv2
import numpy as np


def smooth_noise(rng: np.random.Generator, height: int, width: int, cells: tuple[int, int]) -> np.ndarray:
    """Zero-mean noise of unit scale, varying over about ``cells`` = (rows, columns) blobs; (height, width)."""
    small = rng.standard_normal(cells).astype(np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def fabric(rng: np.random.Generator, height: int, width: int, colour: np.ndarray, second: np.ndarray) -> np.ndarray:
    """A plain, striped or mottled surface of ``colour`` (RGB in [0, 1]), stripes in ``second``."""
    kind = rng.integers(3)
    noise = smooth_noise(rng, height, width, (max(2, height // 24), max(2, width // 24)))
    noise *= 25.0 if kind == 2 else 8.0
    planes = np.empty((3, height, width), np.float32)
    if kind == 1:
        angle, period = rng.uniform(0, np.pi), rng.uniform(6, 24)
        phase = np.add.outer(np.arange(height) * np.sin(angle), np.arange(width) * np.cos(angle))
        stripes = (np.sin(phase * (2 * np.pi / period)) > 0).astype(np.float32)
        for k in range(3):
            planes[k] = 255 * colour[k] + 255 * (second[k] - colour[k]) * stripes + noise
    else:
        for k in range(3):
            planes[k] = 255 * colour[k] + noise
    return planes


def background(rng: np.random.Generator, size: int, palette: np.ndarray) -> np.ndarray:
    """A cluttered background drawn from the colours of ``palette`` ((K, 3), RGB in [0, 1])."""

    def pick() -> np.ndarray:
        return palette[rng.integers(len(palette))] * 255

    first, second = pick(), pick()
    angle = rng.uniform(0, 2 * np.pi)
    axis = np.arange(size, dtype=np.float32) / size - 0.5
    ramp = np.clip(0.5 + np.add.outer(axis * np.sin(angle), axis * np.cos(angle)), 0, 1)
    mottle = 10.0 * smooth_noise(rng, size, size, (8, 8))
    planes = [first[k] + (second[k] - first[k]) * ramp + mottle for k in range(3)]
    image = cv2.merge([np.clip(p, 0, 255).astype(np.uint8) for p in planes])
    for _ in range(rng.integers(3, 13)):
        colour = tuple(int(c) for c in pick())
        kind = rng.integers(5)
        cx, cy = rng.uniform(-0.1, 1.1, 2) * size
        a, b = rng.uniform(0.04, 0.35, 2) * size
        if kind == 0:  # rotated box
            box = cv2.boxPoints(((cx, cy), (2 * a, 2 * b), rng.uniform(0, 180)))
            cv2.fillPoly(image, [np.round(box * 16).astype(np.int32)], colour, cv2.LINE_AA, 4)
        elif kind == 1:  # disc or ellipse
            cv2.ellipse(
                image, (int(cx), int(cy)), (int(a), int(b)), rng.uniform(0, 180), 0, 360, colour, -1, cv2.LINE_AA
            )
        elif kind == 2:  # bar
            end = (int(cx + rng.uniform(-1, 1) * size), int(cy + rng.uniform(-1, 1) * size))
            cv2.line(image, (int(cx), int(cy)), end, colour, int(rng.integers(2, 12)), cv2.LINE_AA)
        elif kind == 3:  # polygon
            angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 7)))
            points = np.stack([cx + a * np.cos(angles), cy + b * np.sin(angles)], axis=1)
            cv2.fillPoly(image, [np.round(points * 16).astype(np.int32)], colour, cv2.LINE_AA, 4)
        else:  # striped or mottled panel
            x0, y0 = int(max(cx - a, 0)), int(max(cy - b, 0))
            x1, y1 = int(min(cx + a, size)), int(min(cy + b, size))
            if x1 > x0 and y1 > y0:
                panel = fabric(rng, y1 - y0, x1 - x0, np.array(colour) / 255, pick() / 255)
                image[y0:y1, x0:x1] = np.clip(panel, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.5))
    return np.stack(cv2.split(image)).astype(np.float32)


def hair_texture(rng: np.random.Generator, height: int, width: int, colour: np.ndarray) -> np.ndarray:
    """Hair of ``colour`` (RGB in [0, 1]): strands (noise stretched along y) with a soft sheen."""
    strands = smooth_noise(rng, height, width, (max(2, height // 40), max(4, width // 6)))
    sheen = smooth_noise(rng, height, width, (3, 3))
    gain = 1.0 + 0.08 * strands + 0.08 * sheen
    return np.stack([255 * c * gain for c in colour]).astype(np.float32)


__all__ = ["background", "fabric", "hair_texture", "smooth_noise"]
