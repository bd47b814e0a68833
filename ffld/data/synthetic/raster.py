"""Rasterisation: painting a stack of polygon layers into an image and a part-label map.

Each layer's coverage is computed by supersampling: the polygon is filled on a grid ``ss`` times finer (OpenCV's
fill, which includes pixels whose centre is within half a fine pixel of the polygon) and averaged back with
area interpolation, so edges are anti-aliased and sit just outside the polygon: ``0.5 / ss`` pixel on average, at
most ``1 / ss`` (0.13 and 0.25 px at ``ss = 4``, measured on axis-aligned edges; OpenCV's own anti-aliased fill is
off by up to half a pixel). The label map takes a layer's label where its coverage is
at least one half, i.e. on the same side of the edge as the image's 50 % transition.

Images are planar, (3, H, W) float32 in 0-255, while they are composited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

SUPERSAMPLING = 4
Box = tuple[slice, slice]


@dataclass
class Paint:
    """How a layer colours the pixels it covers.

    Exactly one of:
        colour: RGB in 0-255, multiplied by ``shade`` (an H×W field) when given, plus ``highlight`` (H×W) times
            ``highlight_colour``.
        texture: a planar (3, h, w) image whose top-left pixel is at image position ``origin`` (x, y).
        multiply: an RGB factor the pixels are multiplied with (shadows; such layers carry no label).
    """

    colour: np.ndarray | None = None
    shade: np.ndarray | None = None
    highlight: np.ndarray | None = None
    highlight_colour: np.ndarray | None = None
    texture: np.ndarray | None = None
    origin: tuple[int, int] = (0, 0)
    multiply: np.ndarray | None = None

    def pixels(self, box: Box) -> np.ndarray:
        """The layer's colours inside ``box``, broadcastable to (3, h, w)."""
        ys, xs = box
        if self.texture is not None:
            x0, y0 = self.origin
            return self.texture[:, ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
        colour = np.asarray(self.colour, np.float32)[:, None, None]
        if self.shade is None:
            return colour
        result = self.shade[box] * colour
        if self.highlight is not None:
            result += self.highlight[box] * np.asarray(self.highlight_colour, np.float32)[:, None, None]
        return result


@dataclass
class Layer:
    """A set of polygons (image coordinates, (K, 2) each) painted and labelled together.

    Attributes:
        polygons: the shapes (their union is painted).
        paint: the colours.
        label: the part label written where the coverage is at least 1/2 (None: the label map is unchanged).
        clip: polygons the layer is clipped to (e.g. the iris to the eye opening).
        blur: standard deviation in pixels of a Gaussian blur of the coverage (soft shadows).
        name: for debugging.
    """

    polygons: list[np.ndarray]
    paint: Paint
    label: int | None = None
    clip: list[np.ndarray] | None = None
    blur: float = 0.0
    name: str = ""


def bounds(polygons: list[np.ndarray], height: int, width: int, margin: float) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1): the pixel window holding ``polygons`` plus ``margin``, within the image; None if empty."""
    polygons = [p for p in polygons if len(p)]
    if not polygons:
        return None
    points = np.concatenate(polygons)
    x0 = max(int(np.floor(points[:, 0].min() - margin)), 0)
    y0 = max(int(np.floor(points[:, 1].min() - margin)), 0)
    x1 = min(int(np.ceil(points[:, 0].max() + margin)) + 1, width)
    y1 = min(int(np.ceil(points[:, 1].max() + margin)) + 1, height)
    return (y0, y1, x0, x1) if x1 > x0 and y1 > y0 else None


def textured(polygons: list[np.ndarray], size: int, make: Callable[[int, int], np.ndarray]) -> Paint:
    """A paint whose texture, ``make(height, width)`` (planar), covers the window of ``polygons`` in a square
    image of side ``size``."""
    y0, y1, x0, x1 = bounds(polygons, size, size, 2.0) or (0, 1, 0, 1)
    return Paint(texture=make(y1 - y0, x1 - x0), origin=(x0, y0))


def coverage(polygons: list[np.ndarray], origin: tuple[int, int], shape: tuple[int, int], ss: int) -> np.ndarray:
    """Fraction of each pixel of a window covered by the union of ``polygons``.

    Args:
        polygons: (K, 2) polygons in image coordinates (0-based, pixel centres at integers).
        origin: (x0, y0), the image coordinates of the window's top-left pixel.
        shape: (height, width) of the window.
        ss: supersampling factor per axis.

    Returns:
        float32 array of ``shape`` with values in [0, 1].
    """
    height, width = shape
    fine = np.zeros((height * ss, width * ss), np.uint8)
    offset = np.asarray(origin, np.float64)
    for polygon in polygons:
        if len(polygon) >= 3:
            points = ((polygon - offset + 0.5) * ss - 0.5) * 16
            cv2.fillPoly(fine, [np.round(points).astype(np.int32)], 255, cv2.LINE_8, 4)
    if ss > 1:
        fine = cv2.resize(fine, (width, height), interpolation=cv2.INTER_AREA)
    return fine.astype(np.float32) * np.float32(1 / 255)


def _layer_coverage(
    layer: Layer, height: int, width: int, ss: int, scale: float = 1.0
) -> tuple[Box, np.ndarray] | None:
    """The layer's coverage (at ``scale`` times the image resolution) in its bounding window, or None."""
    polygons = [p * scale + (scale - 1) / 2 for p in layer.polygons if len(p) >= 3]
    margin = 1 + 3 * layer.blur * scale
    box = bounds(polygons, height, width, margin)
    clip = None
    if layer.clip is not None:
        clip = [p * scale + (scale - 1) / 2 for p in layer.clip if len(p) >= 3]
        clip_box = bounds(clip, height, width, margin)
        if box is None or clip_box is None:
            return None
        box = (max(box[0], clip_box[0]), min(box[1], clip_box[1]), max(box[2], clip_box[2]), min(box[3], clip_box[3]))
    if box is None or box[1] <= box[0] or box[3] <= box[2]:
        return None
    y0, y1, x0, x1 = box
    cov = coverage(polygons, (x0, y0), (y1 - y0, x1 - x0), ss)
    if clip is not None:
        cov *= coverage(clip, (x0, y0), (y1 - y0, x1 - x0), ss)
    if layer.blur > 0:
        cov = cv2.GaussianBlur(cov, (0, 0), layer.blur * scale)
    return (slice(y0, y1), slice(x0, x1)), cov


def render_layers(
    background: np.ndarray, layers: list[Layer], ss: int = SUPERSAMPLING
) -> tuple[np.ndarray, np.ndarray]:
    """Paint ``layers`` in order over ``background`` (planar (3, H, W) float32, 0-255).

    Returns:
        (image, labels): the planar (3, H, W) float32 image and the H×W uint8 label map (0 where no layer is).
    """
    image = background.copy()
    height, width = image.shape[1:]
    labels = np.zeros((height, width), np.uint8)
    for layer in layers:
        found = _layer_coverage(layer, height, width, ss)
        if found is None:
            continue
        box, cov = found
        window = image[:, box[0], box[1]]
        if layer.paint.multiply is not None:
            window *= 1.0 - cov * (1.0 - np.asarray(layer.paint.multiply, np.float32))[:, None, None]
        else:
            colour = layer.paint.pixels(box) - window
            colour *= cov
            window += colour
        if layer.label is not None:
            labels[box][cov >= 0.5] = layer.label
    return image, labels


def render_labels(layers: list[Layer], height: int, width: int, scale: int = 1, ss: int = 2) -> np.ndarray:
    """The label map alone, at ``scale`` times the image resolution (fine pixel (i, j) has its centre at image
    coordinates ((j + 0.5) / scale - 0.5, (i + 0.5) / scale - 0.5)); for measuring boundaries precisely."""
    labels = np.zeros((height * scale, width * scale), np.uint8)
    for layer in layers:
        if layer.label is None:
            continue
        found = _layer_coverage(layer, height * scale, width * scale, ss, float(scale))
        if found is not None:
            box, cov = found
            labels[box][cov >= 0.5] = layer.label
    return labels


__all__ = [
    "SUPERSAMPLING",
    "Box",
    "Layer",
    "Paint",
    "bounds",
    "coverage",
    "render_labels",
    "render_layers",
    "textured",
]
