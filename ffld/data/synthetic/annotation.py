"""Annotation noise with separate amounts along and across the boundary a landmark lies on.

Human annotators are less consistent along a contour (where on the cheek is "landmark 4"?) than across it
(Dong et al., 2018, cited in Sect. 4.3 of the paper); Align Loss is built to tolerate the former.
"""

from __future__ import annotations

import numpy as np


def annotate(
    rng: np.random.Generator, clean: np.ndarray, tangents: np.ndarray, along: float, across: float
) -> np.ndarray:
    """Noisy annotations ``clean + a t + b n`` with ``a ~ N(0, along²)``, ``b ~ N(0, across²)``.

    Args:
        rng: generator (the noise of image i is independent of its rendering).
        clean: (N, 2) landmarks.
        tangents: (N, 2) unit boundary directions t; n is t turned by 90 degrees.
        along: standard deviation along the boundary, pixels.
        across: standard deviation across the boundary, pixels.
    """
    normals = np.stack([-tangents[:, 1], tangents[:, 0]], axis=1)
    a = rng.normal(0.0, 1.0, len(clean)) * along
    b = rng.normal(0.0, 1.0, len(clean)) * across
    return clean + a[:, None] * tangents + b[:, None] * normals


__all__ = ["annotate"]
