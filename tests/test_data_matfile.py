"""read_mat gives the same values, in MATLAB orientation, from a v5 and a v7.3 MAT-file."""

from pathlib import Path

import numpy as np
import pytest

from ffld.data import DatasetError
from ffld.data.matfile import read_mat
from tests.data_formats import write_mat_v5, write_mat_v73


@pytest.mark.parametrize("writer", [write_mat_v5, write_mat_v73], ids=["v5", "v7.3"])
def test_orientation_cells_and_chars(tmp_path: Path, writer) -> None:
    matrix = np.arange(12, dtype=np.float64).reshape(3, 4)
    rgb = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    gray = np.arange(6 * 2, dtype=np.uint8).reshape(6, 2)
    names = ["0/image00002.jpg", "3/image12345.jpg"]
    writer(tmp_path / "f.mat", {"M": matrix, "I": [rgb, gray], "names": names, "row": matrix[:1]})
    values = read_mat(tmp_path / "f.mat", ["M", "I", "names", "row"])
    np.testing.assert_array_equal(values["M"], matrix)
    assert isinstance(values["I"], list) and len(values["I"]) == 2
    np.testing.assert_array_equal(values["I"][0], rgb)
    np.testing.assert_array_equal(values["I"][1], gray)
    assert values["names"] == names
    np.testing.assert_array_equal(values["row"], matrix[:1])
    with pytest.raises(DatasetError, match=r"f\.mat: no field 'absent'"):
        read_mat(tmp_path / "f.mat", ["M", "absent"])
