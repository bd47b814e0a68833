"""Reading MATLAB ``.mat`` files in both layouts the benchmarks ship: v5 (``scipy.io``) and v7.3 (HDF5, ``h5py``).

Values come back in MATLAB's orientation whatever the layout: a numeric ``N×K`` matrix as an (N, K) array, an
``H×W×3`` image as an (H, W, 3) array, a cell array as a list of its elements in MATLAB's (column-major) order, a
char array as ``str``. In v7.3 files MATLAB writes arrays column-major, so HDF5 holds them transposed (``N×K`` is
stored as (K, N)), and a cell array is a dataset of object references into ``#refs#`` (MATLAB's documented
v7.3 format; read the same way by ``hdf5storage``, which HRNet and PIPNet use for COFW).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import scipy.io

from ffld.data.base import DatasetError


def _v5_value(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype == object:
        return [_v5_value(element) for element in value.ravel(order="F")]
    if isinstance(value, np.ndarray) and value.dtype.kind == "U":
        return "".join(value.ravel(order="F").tolist())
    if isinstance(value, str):
        return value
    return np.asarray(value)


def _h5_value(file: h5py.File, node: h5py.Dataset) -> Any:
    matlab_class = node.attrs.get("MATLAB_class", b"")
    matlab_class = matlab_class.decode() if isinstance(matlab_class, bytes) else str(matlab_class)
    data = node[()]
    if h5py.check_dtype(ref=node.dtype) is not None:
        return [_h5_value(file, file[ref]) for ref in np.asarray(data).T.ravel(order="F")]
    array = np.asarray(data).T
    if matlab_class == "char":
        return "".join(chr(code) for code in array.ravel(order="F"))
    return array


def read_mat(path: str | os.PathLike, fields: Sequence[str]) -> dict[str, Any]:
    """Read ``fields`` from a ``.mat`` file of either layout.

    Args:
        path: the file.
        fields: variable names that must all be present.

    Returns:
        ``{name: value}`` in MATLAB orientation (see the module docstring).

    Raises:
        DatasetError: naming the file, if it is missing, is not a MAT-file, or lacks one of ``fields``.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as file:
                missing = [name for name in fields if name not in file]
                if missing:
                    raise DatasetError(f"{path}: no field {missing[0]!r} (fields found: {sorted(file.keys())})")
                return {name: _h5_value(file, file[name]) for name in fields}
        contents = scipy.io.loadmat(path, variable_names=list(fields))
    except DatasetError:
        raise
    except Exception as error:  # scipy and h5py fail on corrupt files in many ways (MatReadError, IndexError, ...)
        raise DatasetError(f"{path}: not a readable MAT-file ({error})") from error
    missing = [name for name in fields if name not in contents]
    if missing:
        found = sorted(entry[0] for entry in scipy.io.whosmat(path))
        raise DatasetError(f"{path}: no field {missing[0]!r} (fields found: {found})")
    return {name: _v5_value(contents[name]) for name in fields}


__all__ = ["read_mat"]
