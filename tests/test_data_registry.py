"""The benchmark registry (ffld.data.registry): NME normalisers against hand computations, and which SynthFace
splits carry annotation noise."""

import numpy as np
import pytest

from ffld.data.base import DatasetError
from ffld.data.registry import DATASETS, dataset_info, open_split


def _faces(num_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Two faces of ``num_points`` landmarks spread over a 40×90 box, with 3-4-5 geometry where it matters."""
    rng = np.random.default_rng(0)
    truth = rng.uniform(10.0, 50.0, size=(2, num_points, 2))
    boxes = np.array([[10.0, 10.0, 50.0, 100.0], [0.0, 0.0, 40.0, 90.0]])  # w·h = 3600: face size 60
    return truth, boxes


@pytest.mark.parametrize(
    ("name", "first", "second"),
    [
        ("300w", [36], [45]),  # outer eye corners (Table 1, inter-ocular)
        ("300vw", [36], [45]),
        ("synthface", [36], [45]),
        ("wflw", [60], [72]),
        ("cofw", [16], [17]),  # pupils, RCPR's distPup (Table 3's compared methods)
    ],
)
def test_point_normalisers(name: str, first: list[int], second: list[int]) -> None:
    info = dataset_info(name)
    truth, boxes = _faces(info.spec.num_points)
    truth[:, first] = [[[1.0, 2.0]], [[0.0, 0.0]]]
    truth[:, second] = [[[4.0, 6.0]], [[6.0, 8.0]]]  # distances 5 and 10
    np.testing.assert_allclose(info.norms(truth, boxes), [5.0, 10.0], rtol=0, atol=1e-12)


def test_aflw_is_normalised_by_face_size() -> None:
    info = dataset_info("aflw")
    truth, boxes = _faces(info.spec.num_points)
    np.testing.assert_allclose(info.norms(truth, boxes), [60.0, 60.0], rtol=0, atol=1e-12)


def test_300w_can_be_normalised_by_its_pupils_as_in_table_1s_upper_half() -> None:
    info = dataset_info("300w").normalised_by("inter-pupil")
    truth, boxes = _faces(68)
    truth[:, 36:42] = [[3.0, 2.0]]  # every point of the right eye's contour: its centre
    truth[:, 42:48] = [[[6.0, 6.0]], [[9.0, 10.0]]]  # distances 5 and 10 from (3, 2)
    np.testing.assert_allclose(info.norms(truth, boxes), [5.0, 10.0], rtol=0, atol=1e-12)
    assert (info.normaliser, dataset_info("300w").normaliser) == ("inter-pupil", "inter-ocular")


def test_every_benchmark_is_covered_and_unknown_names_are_refused(tmp_path) -> None:
    assert set(DATASETS) == {"300w", "300vw", "synthface", "wflw", "cofw", "aflw"}
    with pytest.raises(ValueError, match="unknown dataset 'lfpw'; choose one of"):
        dataset_info("lfpw")
    expected = "train, test or test:<largepose|expression|illumination|makeup|occlusion|blur>"
    for split in ("test:", "test:blurry"):
        with pytest.raises(DatasetError) as error:
            open_split("wflw", str(tmp_path), split)
        assert str(error.value) == f"unknown WFLW subset {split!r}; expected {expected}"
    with pytest.raises(DatasetError, match=r"^unknown 300VW category '03'; expected 1, 2, 3 or train$"):
        open_split("300vw", str(tmp_path), "03")
    with pytest.raises(DatasetError) as error:
        open_split("wflw", str(tmp_path / "WFLW"), "test")
    assert str(error.value) == f"{tmp_path / 'WFLW'}: no such folder (the wflw root; see data/README.md for its layout)"
    (tmp_path / "notes.txt").write_text("not a dataset")
    for name, what in (("wflw", "the wflw root"), ("synthface", "the SynthFace cache folder")):
        with pytest.raises(DatasetError) as error:
            open_split(name, str(tmp_path / "notes.txt"), "test")
        assert str(error.value) == f"{tmp_path / 'notes.txt'}: is a file, not a folder ({what})"


def test_synthface_annotation_noise_reaches_the_training_split_only(tmp_path) -> None:
    """The test splits of a noisy config are those of the clean config (same files, exact annotations), so every
    noise condition is scored on the same crops; the training split keeps its noisy annotations."""
    sizes = {"image_size": 64, "train": {"size": 3}, "common": {"size": 2}, "challenge": {"size": 2}}
    noisy = {**sizes, "noise_along": 2.0, "noise_across": 1.0}
    for split in ("common", "challenge", "full"):
        clean_items, noisy_items = (
            list(open_split("synthface", str(tmp_path), split, synthface=s)) for s in (sizes, noisy)
        )
        for clean, item in zip(clean_items, noisy_items, strict=True):
            assert item["path"] == clean["path"]
            np.testing.assert_array_equal(item["landmarks"], clean["landmarks"])
            np.testing.assert_allclose(item["landmarks"], item["clean_landmarks"], atol=1e-4)  # files round to 1e-4
    trained = list(open_split("synthface", str(tmp_path), "train", synthface=noisy))
    moved = np.stack([np.linalg.norm(item["landmarks"] - item["clean_landmarks"], axis=1) for item in trained])
    # Gaussian noise of 2 px along and 1 px across moves a point 1.93 px on average (sd 1.1; 204 points: 5 se = 0.4)
    assert 1.5 < moved.mean() < 2.4
