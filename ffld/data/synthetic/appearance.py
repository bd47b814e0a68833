"""Colours and lighting of one face: skin tone, hair, eyes, lips, a directional light, and a palette for the
background, clothes and occluders.

Boundaries carrying landmarks are kept visible by construction: hair, brows, background and clothes colours
stay away from every shade the skin takes under the light (:func:`far_from_skin`), brows and lips are darker
than the skin, and the light always has a component across the nose, so the two halves of the nose differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Skin tones from very light to very dark (linear interpolation between neighbours), RGB in [0, 1].
_SKIN_TONES = np.array([
    [0.96, 0.84, 0.76], [0.93, 0.76, 0.64], [0.86, 0.66, 0.52], [0.76, 0.55, 0.41],
    [0.6, 0.4, 0.28], [0.45, 0.3, 0.21], [0.33, 0.22, 0.16],
])  # fmt: skip
_HAIR = np.array([
    [0.08, 0.07, 0.06], [0.2, 0.13, 0.09], [0.36, 0.24, 0.15], [0.5, 0.24, 0.12],
    [0.78, 0.64, 0.42], [0.62, 0.61, 0.6], [0.9, 0.88, 0.85],
])  # fmt: skip
# Irises of medium lightness, so that the dark lash line above them stays visible.
_IRIS = np.array([[0.45, 0.28, 0.15], [0.38, 0.24, 0.14], [0.5, 0.4, 0.2], [0.38, 0.48, 0.3],
                  [0.35, 0.48, 0.66], [0.48, 0.52, 0.56]])  # fmt: skip

# Range of the shading factor the skin takes (ambient only ... fully lit with a highlight).
_SHADE_RANGE = (0.3, 1.3)
MIN_CONTRAST = 0.18  # smallest RGB distance (in [0, 1] units) between a backdrop colour and any skin shade


@dataclass(frozen=True)
class Light:
    """A directional light in camera coordinates (unit vector towards the light), with its strength."""

    direction: np.ndarray
    ambient: float
    diffuse: float
    specular: float
    shininess: float
    colour: np.ndarray  # RGB tint, about 1


@dataclass(frozen=True)
class Appearance:
    """Colours (RGB in [0, 1]) and light of one image."""

    skin: np.ndarray
    hair: np.ndarray
    hair_style: str  # "short" or "long"
    brow: np.ndarray
    lash: np.ndarray
    iris: np.ndarray
    lips: np.ndarray
    sclera: np.ndarray
    palette: np.ndarray  # (K, 3) colours for the background, clothes and occluders
    light: Light


def far_from_skin(colour: np.ndarray, skin: np.ndarray, min_distance: float = MIN_CONTRAST) -> bool:
    """Whether ``colour`` is at least ``min_distance`` (RGB, [0, 1]) from every shade ``t * skin`` of the skin."""
    t = np.clip(np.dot(colour, skin) / np.dot(skin, skin), *_SHADE_RANGE)
    return bool(np.linalg.norm(colour - t * skin) >= min_distance)


def _contrasting(rng: np.random.Generator, skin: np.ndarray, propose) -> np.ndarray:
    """Draw colours from ``propose(rng)`` until one is far from the skin (at most 50 tries, then darken it)."""
    colour = propose(rng)
    for _ in range(50):
        if far_from_skin(colour, skin):
            return colour
        colour = propose(rng)
    return colour * 0.25


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    hsv = rng.uniform([0.0, 0.0, 0.1], [1.0, 0.9, 0.95])
    h, s, v = hsv
    k = (np.array([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    return v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def sample_light(rng: np.random.Generator, face_x_axis: np.ndarray) -> Light:
    """A light from the camera's side of the face, above it more often than not, with a component of at least
    0.3 along the face's x axis (camera coordinates) so that the two sides of the nose are shaded differently."""
    while True:
        direction = rng.normal(size=3) * [0.6, 0.4, 0.3] + [0.0, -0.25, 0.8]
        direction /= np.linalg.norm(direction)
        if direction[2] > 0.45 and abs(direction @ face_x_axis) > 0.3:
            break
    return Light(
        direction=direction,
        ambient=rng.uniform(0.35, 0.55),
        diffuse=rng.uniform(0.45, 0.7),
        specular=rng.uniform(0.03, 0.12),
        shininess=rng.uniform(8.0, 20.0),
        colour=rng.uniform(0.92, 1.08, size=3),
    )


def sample_appearance(rng: np.random.Generator, face_x_axis: np.ndarray) -> Appearance:
    """Draw the colours and light of one image; ``face_x_axis`` is the face's x axis in camera coordinates."""
    t = rng.uniform(0, len(_SKIN_TONES) - 1)
    i = min(int(t), len(_SKIN_TONES) - 2)
    skin = (_SKIN_TONES[i] + (t - i) * (_SKIN_TONES[i + 1] - _SKIN_TONES[i])) * rng.uniform(0.95, 1.05, 3)
    hair = _contrasting(rng, skin, lambda r: _HAIR[r.integers(len(_HAIR))] * r.uniform(0.85, 1.15, 3))
    # Brows and lashes: darker than the skin (and the lashes than the iris) whatever the hair colour.
    iris = _IRIS[rng.integers(len(_IRIS))] * rng.uniform(0.9, 1.1, 3)
    brow = np.minimum(0.5 * hair + 0.15 * skin, 0.4 * skin)
    lash = 0.15 * np.minimum(np.minimum(hair, skin), iris) + 0.01
    lips = np.clip(skin * [0.95, 0.58, 0.6] * rng.uniform(0.78, 0.92) - [0.0, 0.04, 0.03], 0.0, 1.0)
    sclera = np.array([0.93, 0.9, 0.86]) * rng.uniform(0.9, 1.0)
    palette = np.stack([_contrasting(rng, skin, _random_colour) for _ in range(5)])
    style = "long" if rng.uniform() < 0.4 else "short"
    return Appearance(
        skin=np.clip(skin, 0.0, 1.0),
        hair=np.clip(hair, 0.0, 1.0),
        hair_style=style,
        brow=brow,
        lash=lash,
        iris=np.clip(iris, 0.0, 1.0),
        lips=lips,
        sclera=sclera,
        palette=np.clip(palette, 0.0, 1.0),
        light=sample_light(rng, face_x_axis),
    )


__all__ = ["MIN_CONTRAST", "Appearance", "Light", "far_from_skin", "sample_appearance", "sample_light"]
