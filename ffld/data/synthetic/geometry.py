"""Small geometry helpers: head pose rotations, clipping by visibility, convex hulls and contour tangents.

Frames: the face frame has x towards the subject's left (the image's right in a frontal face), y down and z out
of the face towards the camera. The camera is orthographic: image (x, y) = centre + scale * (R p)[:2], and a
surface point faces the camera when the z component of its rotated normal is positive.
"""

from __future__ import annotations

import cv2
import numpy as np


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R = Rz(roll) Rx(pitch) Ry(yaw) for angles in degrees.

    Yaw > 0 turns the nose towards +x (the image's right), pitch > 0 turns it up (towards -y), roll > 0 turns the
    face clockwise on screen (+x towards +y).
    """
    a, b, c = np.deg2rad([yaw, pitch, roll])
    ry = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(b), -np.sin(b)], [0.0, np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0.0], [np.sin(c), np.cos(c), 0.0], [0.0, 0.0, 1.0]])
    return rz @ rx @ ry


def clip_polygon(points: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Clip a closed polygon to where a per-vertex value is >= 0 (one Sutherland-Hodgman pass).

    The value (here: how much the surface under each vertex faces the camera) is interpolated linearly along
    each edge, so the cut runs through the interpolated zero crossings.

    Returns:
        (M, 2) polygon, M = 0 when nothing is visible.
    """
    keep = values >= 0
    if keep.all():
        return points
    if not keep.any():
        return points[:0]
    out = []
    n = len(points)
    for i in range(n):
        j = (i + 1) % n
        if keep[i]:
            out.append(points[i])
        if keep[i] != keep[j]:
            t = values[i] / (values[i] - values[j])
            out.append(points[i] + t * (points[j] - points[i]))
    return np.asarray(out)


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Indices of the convex hull of (N, 2) points, ordered clockwise on screen (y down)."""
    index = cv2.convexHull(points.astype(np.float32), returnPoints=False)[:, 0]
    x, y = points[index, 0], points[index, 1]
    area = 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)  # > 0: clockwise with y down
    return index if area > 0 else index[::-1]


def path_positions(path: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Points at the given fractions (0 = first vertex, 1 = last) of the arc length of an open polyline."""
    seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    target = np.asarray(fractions) * cum[-1]
    return np.stack([np.interp(target, cum, path[:, 0]), np.interp(target, cum, path[:, 1])], axis=1)


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norm = np.sqrt((vectors * vectors).sum(axis=-1, keepdims=True))
    return vectors / np.maximum(norm, 1e-12)


def curve_tangent(curve: np.ndarray, index: int, mode: str, closed: bool) -> np.ndarray:
    """Unit tangent of a polyline at one of its vertices, in the direction of increasing index.

    Args:
        curve: (N, 2) vertices.
        index: the vertex.
        mode: "smooth" (the direction from the previous to the next vertex), "corner" (the axis of a corner:
            the bisector of the directions to both neighbours, e.g. an eye or mouth corner) or "end" (the
            direction of the curve at its first or last vertex).
        closed: whether the polyline is a closed contour (the neighbours wrap around).
    """
    n = len(curve)
    if mode == "end":
        step = curve[1] - curve[0] if index == 0 else curve[index] - curve[index - 1]
        return unit(step)
    prev = curve[(index - 1) % n] if closed or index > 0 else curve[index]
    nxt = curve[(index + 1) % n] if closed or index < n - 1 else curve[index]
    forward, backward = unit(nxt - curve[index]), unit(prev - curve[index])
    if mode == "smooth":
        return unit(forward - backward)
    if mode == "corner":
        return unit(forward + backward)
    raise ValueError(f"unknown tangent mode {mode!r}")


__all__ = ["clip_polygon", "convex_hull", "curve_tangent", "path_positions", "rotation_matrix", "unit"]
