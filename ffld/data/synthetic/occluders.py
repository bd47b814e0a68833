"""Occluders in front of the face, as in COFW (Burgos-Artizzu et al., 2013): hands, bars (microphones, pens,
hair strands), objects of all shapes, and sunglasses. Each occluder is anchored on a landmark it covers."""

from __future__ import annotations

import numpy as np

from ffld.data.synthetic.parts import Label
from ffld.data.synthetic.raster import Layer, textured
from ffld.data.synthetic.textures import fabric

KINDS = ("object", "bar", "hand", "glasses")
_KIND_PROBS = (0.35, 0.25, 0.25, 0.15)


def _ellipse(centre: np.ndarray, a: float, b: float, angle: float, n: int = 32) -> np.ndarray:
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(angle), np.sin(angle)
    x, y = a * np.cos(t), b * np.sin(t)
    return centre + np.stack([c * x - s * y, s * x + c * y], axis=1)


def _box(start: np.ndarray, direction: np.ndarray, length: float, width: float) -> np.ndarray:
    """A rectangle from ``start`` along unit ``direction``."""
    normal = np.array([-direction[1], direction[0]]) * width / 2
    end = start + direction * length
    return np.array([start - normal, end - normal, end + normal, start + normal])


def _object(rng: np.random.Generator, anchor: np.ndarray, scale: float) -> list[np.ndarray]:
    centre = anchor + rng.normal(0.0, 0.1 * scale, 2)
    if rng.uniform() < 0.4:
        return [_ellipse(centre, *(rng.uniform(0.3, 0.55, 2) * scale), rng.uniform(0, np.pi))]
    angles = np.sort(rng.uniform(0.0, 2 * np.pi, rng.integers(5, 11)))
    radii = rng.uniform(0.3, 0.55) * scale * rng.uniform(0.75, 1.25, len(angles))
    return [centre + radii[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)]


def _bar(rng: np.random.Generator, anchor: np.ndarray, scale: float) -> list[np.ndarray]:
    angle = rng.uniform(0, np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    length = rng.uniform(2.5, 4.0) * scale
    start = anchor + rng.normal(0.0, 0.02 * scale, 2) - direction * rng.uniform(0.3, 0.7) * length
    return [_box(start, direction, length, rng.uniform(0.1, 0.22) * scale)]


def _hand(rng: np.random.Generator, anchor: np.ndarray, scale: float) -> list[np.ndarray]:
    """A palm and four fingers with rounded tips, fanning out in a random direction."""
    angle = rng.uniform(0, 2 * np.pi)
    centre = anchor + rng.normal(0.0, 0.08 * scale, 2)
    shapes = [_ellipse(centre, 0.48 * scale, 0.4 * scale, angle)]
    width = 0.17 * scale
    for k in range(4):
        a = angle + (k - 1.5) * 0.28
        direction = np.array([np.cos(a), np.sin(a)])
        start = centre + direction * 0.3 * scale
        length = rng.uniform(0.5, 0.72) * scale
        shapes.append(_box(start, direction, length, width))
        shapes.append(_ellipse(start + direction * length, width / 2, width / 2, 0.0, 12))
    return shapes


def _glasses(landmarks: np.ndarray) -> list[np.ndarray]:
    shapes = []
    centres = [landmarks[36:42].mean(axis=0), landmarks[42:48].mean(axis=0)]
    for eye, centre in zip((slice(36, 42), slice(42, 48)), centres, strict=True):
        width = max(np.ptp(landmarks[eye][:, 0]), 1.0)
        corner_line = landmarks[eye][3] - landmarks[eye][0]
        shapes.append(_ellipse(centre, 0.7 * width, 0.5 * width, np.arctan2(corner_line[1], corner_line[0])))
    between = centres[1] - centres[0]
    direction = between / max(np.linalg.norm(between), 1e-6)
    shapes.append(_box(centres[0], direction, np.linalg.norm(between), 0.12 * np.linalg.norm(between)))
    return shapes


def sample_occluders(
    rng: np.random.Generator, landmarks: np.ndarray, scale: float, size: int, palette: np.ndarray, skin: np.ndarray
) -> tuple[list[str], list[Layer]]:
    """One (80 %) or two occluders over the face.

    Args:
        rng: the image's random generator.
        landmarks: (68, 2) landmarks in image coordinates (anchors).
        scale: pixels per face unit (half the face width).
        size: image side.
        palette: colours to paint objects with.
        skin: a skin colour for hands (RGB in [0, 1]).

    Returns:
        The kinds of the occluders and their layers (label :attr:`Label.OCCLUDER`).
    """
    kinds, layers = [], []
    for _ in range(1 if rng.uniform() < 0.8 else 2):
        kind = KINDS[int(rng.choice(len(KINDS), p=_KIND_PROBS))]
        anchor = landmarks[rng.integers(len(landmarks))]
        if kind == "glasses":
            shapes = _glasses(landmarks)
            first = palette[rng.integers(len(palette))] * 0.25
            second = first * 0.5
        elif kind == "hand":
            shapes = _hand(rng, anchor, scale)
            first = np.clip(skin * rng.uniform(0.8, 1.15, 3), 0, 1)
            second = first * 0.9
        else:
            shapes = _object(rng, anchor, scale) if kind == "object" else _bar(rng, anchor, scale)
            first, second = palette[rng.choice(len(palette), 2, replace=False)]
        paint = textured(shapes, size, lambda h, w: fabric(rng, h, w, first, second))  # noqa: B023
        kinds.append(kind)
        layers.append(Layer(shapes, paint, label=Label.OCCLUDER, name=f"occluder:{kind}"))
    return kinds, layers


__all__ = ["KINDS", "sample_occluders"]
