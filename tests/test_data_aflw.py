"""AFLW-19 reader against an AFLWinfo_release.mat written in the official layout (24386 faces)."""

from pathlib import Path

import numpy as np
import pytest

from ffld.data import AFLW19, DatasetError, LandmarkFileError
from tests.data_formats import AFLW_TOTAL, write_aflw, write_mat_v5

NAMES = ["0/image00002.jpg", "2/image00004.jpg", "3/image00035.jpg"]


@pytest.fixture(scope="module")
def aflw(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path_factory.mktemp("aflw")
    return root, write_aflw(root, np.random.default_rng(5), NAMES)


def test_protocol_splits(aflw: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, truth = aflw
    ra = truth["ra"].astype(int) - 1
    train, full, frontal = (AFLW19(root, split) for split in ("train", "full", "frontal"))
    assert (len(train), len(full)) == (20000, 4386)
    assert [r.extras["index"] for r in train.records] == ra[:20000].tolist()
    assert [r.extras["index"] for r in full.records] == ra[20000:].tolist()
    all_visible = [row for row in ra[20000:] if truth["mask"][row].all()]
    assert [r.extras["index"] for r in frontal.records] == all_visible
    assert 0 < len(frontal) < len(full)
    assert AFLW_TOTAL == 24386


def test_item_contents(aflw: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, truth = aflw
    dataset = AFLW19(root, "full")
    for position in (0, 1234, 4385):
        item = dataset[position]
        row = item["index"]
        assert item["path"] == str(root / "data" / "flickr" / truth["names"][row])
        assert item["source"] == f"{item['path']} [face {row + 1} of AFLWinfo_release.mat]"  # the .mat's row, 1-based
        assert item["image"].shape == (60, 60, 3) and item["image"].dtype == np.uint8
        np.testing.assert_allclose(item["landmarks"], truth["xy"][row].T - 1.0, atol=1e-4)  # x's then y's
        left, right, top, bottom = truth["bbox"][row]
        np.testing.assert_allclose(item["box"], [left - 1, top - 1, right - 1, bottom - 1], atol=1e-4)
        np.testing.assert_array_equal(item["visible"], truth["mask"][row].astype(bool))


def test_errors(tmp_path: Path, aflw: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, truth = aflw
    with pytest.raises(DatasetError, match="unknown AFLW split"):
        AFLW19(root, "test")
    with pytest.raises(DatasetError, match=r"AFLWinfo_release\.mat: file not found"):
        AFLW19(tmp_path, "train")
    write_mat_v5(tmp_path / "AFLWinfo_release.mat", {"bbox": truth["bbox"], "data": truth["xy"].reshape(-1, 38)})
    with pytest.raises(DatasetError, match=r"AFLWinfo_release\.mat: no field 'mask_new'"):
        AFLW19(tmp_path, "train")


def test_bad_faces(tmp_path: Path) -> None:
    truth = write_aflw(tmp_path, np.random.default_rng(6), NAMES)
    test_rows = truth["ra"][20000:].astype(int) - 1
    data = truth["xy"].reshape(AFLW_TOTAL, 38).copy()
    data[test_rows[0], 5] = np.inf
    names = truth["names"].tolist()
    names[test_rows[1]] = "0/missing.jpg"
    bbox = truth["bbox"].copy()
    bbox[test_rows[2], 1] = bbox[test_rows[2], 0] - 1  # right < left
    mask = truth["mask"].copy()
    for row in test_rows[3:5]:  # outer eye corners 6 and 11 (0-based) at one place: visible, then one hidden
        data[row, [11, 30]] = data[row, [6, 25]]
        mask[row, [6, 11]] = 1
    mask[test_rows[4], 11] = 0  # an invisible corner's position is a guess: no normaliser is taken from it
    variables = {"bbox": bbox, "data": data, "mask_new": mask, "nameList": names, "ra": truth["ra"][None]}
    write_mat_v5(tmp_path / "AFLWinfo_release.mat", variables)
    with pytest.raises(LandmarkFileError, match=rf"\[face {test_rows[0] + 1}\]: point 6 has a NaN or infinite"):
        AFLW19(tmp_path, "full")
    with pytest.warns(UserWarning, match="skipped 4 face"):
        dataset = AFLW19(tmp_path, "full", on_error="skip")
    assert len(dataset) == 4386 - 4
    problems = [p.problem for p in dataset.skipped]
    assert problems[0] == "point 6 has a NaN or infinite coordinate"
    assert problems[1].startswith("image ") and problems[1].endswith("missing.jpg not found")
    assert problems[2].startswith("bad box [left, right, top, bottom]")
    assert problems[3] == "the outer eye corners (points 7 and 12) coincide: the inter-ocular distance is 0"
    assert dataset.skipped[3].path.endswith(f"[face {test_rows[3] + 1}]")

    mat = tmp_path / "AFLWinfo_release.mat"
    for position, value, fault in ((7, 0, "entry 8 is 0"), (9, 24387, "entry 10 is 24387"), (3, 2.5, "entry 4 is 2.5")):
        order = np.arange(1.0, AFLW_TOTAL + 1)
        order[position] = value
        write_mat_v5(mat, {**variables, "ra": order[None]})
        with pytest.raises(DatasetError) as error:
            AFLW19(tmp_path, "train")
        assert str(error.value) == f"{mat}: ra is not a permutation of 1..24386 ({fault})"
    write_mat_v5(mat, {**variables, "ra": np.ones((1, AFLW_TOTAL))})
    with pytest.raises(DatasetError, match=r"^.*: ra is not a permutation of 1\.\.24386 \(1 appears 24386 times\)$"):
        AFLW19(tmp_path, "train")

    mask[test_rows[5], 2] = 0.5  # neither visible nor hidden: refused, not dropped from Frontal or read as visible
    write_mat_v5(mat, {**variables, "mask_new": mask})
    with pytest.raises(DatasetError) as error:
        AFLW19(tmp_path, "frontal")
    assert str(error.value).startswith(f"{mat} [face {test_rows[5] + 1}]: mask_new must hold 0 or 1 (visible), got [")
