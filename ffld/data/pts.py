"""The iBUG ``.pts`` landmark file format used by 300W, 300VW and SynthFace.

A file reads::

    version: 1
    n_points:  68
    {
    x_1 y_1
    ...
    x_N y_N
    }

with 1-based pixel coordinates (the centre of the top-left pixel is ``(1, 1)``). ffld works with 0-based
coordinates, so :func:`read_pts` subtracts 1 and :func:`write_pts` adds it back. :func:`read_pts` accepts the
variants that editors produce (Windows line ends, a UTF-8 byte-order mark, blank lines, tabs).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class LandmarkFileError(ValueError):
    """A landmark or annotation file that does not follow its format; the message names the file."""


def read_pts(path: str | os.PathLike, num_points: int | None = None) -> np.ndarray:
    """Read a ``.pts`` file.

    Args:
        path: the file.
        num_points: if given, the number of points the file must hold.

    Returns:
        (N, 2) float64 array of 0-based ``(x, y)`` pixel coordinates.

    Raises:
        LandmarkFileError: naming the file, for a malformed header, missing braces, a point count that differs
            from ``n_points`` or from ``num_points``, a line that is not two numbers, or NaN/inf coordinates.
    """
    path = Path(path)
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8-sig", errors="strict").splitlines()]
    except (OSError, UnicodeDecodeError) as error:
        raise LandmarkFileError(f"{path}: cannot read .pts file ({error})") from error
    lines = [line for line in lines if line]

    def fail(problem: str) -> LandmarkFileError:
        return LandmarkFileError(f"{path}: {problem}")

    if len(lines) < 4 or not lines[0].startswith("version:"):
        raise fail("malformed header: expected 'version: 1' on the first line")
    key, _, value = lines[1].partition(":")
    if key.strip() != "n_points" or not value.strip().isdigit():
        raise fail(f"malformed header: expected 'n_points: <count>' on the second line, got {lines[1]!r}")
    declared = int(value)
    if lines[2] != "{" or lines[-1] != "}":
        raise fail("malformed body: the points must be enclosed in '{' and '}' lines")
    body = lines[3:-1]
    if len(body) != declared:
        raise fail(f"header declares n_points: {declared} but the file holds {len(body)} points")
    if num_points is not None and declared != num_points:
        raise fail(f"holds {declared} points, expected {num_points}")
    points = np.empty((declared, 2), dtype=np.float64)
    for i, line in enumerate(body):
        fields = line.split()
        try:
            if len(fields) != 2:
                raise ValueError
            points[i] = float(fields[0]), float(fields[1])
        except ValueError:
            raise fail(f"point {i + 1} is not two numbers: {line!r}") from None
    if not np.isfinite(points).all():
        bad = int(np.flatnonzero(~np.isfinite(points).all(axis=1))[0])
        raise fail(f"point {bad + 1} has a NaN or infinite coordinate")
    return points - 1.0


def write_pts(path: str | os.PathLike, points: np.ndarray) -> None:
    """Write (N, 2) 0-based ``(x, y)`` coordinates as a ``.pts`` file (1-based, as the format requires).

    Raises:
        ValueError: for a shape other than (N, 2) or non-finite coordinates.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"{path}: points must have shape (N, 2), got {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError(f"{path}: points must be finite")
    rows = "\n".join(f"{x + 1.0:.6f} {y + 1.0:.6f}" for x, y in points.tolist())
    text = f"version: 1\nn_points:  {len(points)}\n{{\n{rows}\n}}\n"
    Path(path).write_text(text, encoding="utf-8")


__all__ = ["LandmarkFileError", "read_pts", "write_pts"]
