"""COFW reader against both MATLAB layouts of COFW_{train,test}_color.mat."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from ffld.data import COFW, DatasetError, ImageFileError, LandmarkFileError
from tests.data_formats import cofw_variables, write_mat_v5, write_mat_v73

WRITERS = {"v7.3": write_mat_v73, "v5": write_mat_v5}


@pytest.mark.parametrize("layout", list(WRITERS))
@pytest.mark.parametrize("split", ["train", "test"])
def test_reads_both_layouts(tmp_path: Path, layout: str, split: str) -> None:
    variables, images, points, occlusion, boxes = cofw_variables(np.random.default_rng(1), split)
    name = f"COFW_{split}_color.mat"
    WRITERS[layout](tmp_path / name, variables)
    assert h5py.is_hdf5(tmp_path / name) == (layout == "v7.3")

    dataset = COFW(tmp_path, split, convert=True)
    assert len(dataset) == 3
    for i, item in enumerate(dataset):
        expected = images[i] if images[i].ndim == 3 else np.repeat(images[i][:, :, None], 3, axis=2)
        np.testing.assert_array_equal(item["image"], expected)  # H×W×3 RGB, not transposed
        np.testing.assert_allclose(item["landmarks"], points[i] - 1.0, rtol=0, atol=1e-4)
        np.testing.assert_array_equal(item["occluded"], occlusion[i].astype(bool))
        x, y, w, h = boxes[i]
        np.testing.assert_allclose(item["box"], [x - 1, y - 1, x - 1 + w, y - 1 + h], atol=1e-4)
        assert item["path"] == str(tmp_path / name) and item["index"] == i
        assert item["source"] == f"{tmp_path / name} [face {i + 1}]"
    with pytest.raises(ImageFileError, match=rf"{name} \[face 3\]: grayscale image"):
        COFW(tmp_path, split)[2]  # without convert=True the grayscale face is refused, by name


@pytest.mark.parametrize("layout", list(WRITERS))
def test_missing_fields_and_files(tmp_path: Path, layout: str) -> None:
    variables, *_ = cofw_variables(np.random.default_rng(2), "train")
    del variables["phisTr"]
    WRITERS[layout](tmp_path / "COFW_train_color.mat", variables)
    with pytest.raises(DatasetError, match=r"COFW_train_color\.mat: no field 'phisTr'"):
        COFW(tmp_path, "train")
    with pytest.raises(DatasetError, match=r"COFW_test_color\.mat: file not found"):
        COFW(tmp_path, "test")
    with pytest.raises(DatasetError, match="unknown COFW split"):
        COFW(tmp_path, "val")
    (tmp_path / "COFW_test_color.mat").write_bytes(b"garbage, not a MAT-file")
    with pytest.raises(DatasetError, match=r"COFW_test_color\.mat: not a readable MAT-file"):
        COFW(tmp_path, "test")


def test_inconsistent_sizes(tmp_path: Path) -> None:
    variables, *_ = cofw_variables(np.random.default_rng(3), "test")
    variables["phisT"] = variables["phisT"][:, :58]  # occlusion columns missing
    write_mat_v73(tmp_path / "COFW_test_color.mat", variables)
    with pytest.raises(DatasetError) as error:
        COFW(tmp_path, "test")
    assert str(error.value) == (
        f"{tmp_path / 'COFW_test_color.mat'}: phisT has shape (3, 58), expected (3, 87) (one row per image of IsT, "
        "which holds 3)"
    )


def test_bad_faces_raise_or_are_reported(tmp_path: Path) -> None:
    variables, *_ = cofw_variables(np.random.default_rng(4), "test")
    variables["phisT"][0, 3] = np.nan
    variables["phisT"][1, 60] = 0.5  # occlusion flag neither 0 nor 1
    write_mat_v73(tmp_path / "COFW_test_color.mat", variables)
    with pytest.raises(LandmarkFileError, match=r"\[face 1\]: point 4 has a NaN or infinite coordinate"):
        COFW(tmp_path, "test")
    with pytest.warns(UserWarning, match="skipped 3 face"):
        dataset = COFW(tmp_path, "test", on_error="skip", check_images=True)
    assert len(dataset) == 0
    assert [p.problem for p in dataset.skipped] == [
        "point 4 has a NaN or infinite coordinate",
        "occlusion flags must be 0 or 1",
        "grayscale image; ffld expects RGB (convert=True, or --convert, replicates it)",
    ]
    assert dataset.skipped[2].path.endswith("COFW_test_color.mat [face 3]")
