"""300W reader against a 300W tree written in the official layout."""

from pathlib import Path

import numpy as np
import pytest

from ffld.data import W300, DatasetError, ImageFileError, LandmarkFileError
from ffld.data.base import check_on_image
from ffld.data.prepared import prepare_faces
from tests.data_formats import random_image, write_image, write_pts_text

FOLDERS = {"afw": ".jpg", "helen/trainset": ".jpg", "helen/testset": ".jpg", "lfpw/trainset": ".png",
           "lfpw/testset": ".png", "ibug": ".jpg"}  # fmt: skip


def make_tree(root: Path, per_folder: int = 2, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write the tree; return {image path: (rgb, 1-based points)}."""
    rng = np.random.default_rng(seed)
    written = {}
    for folder, suffix in FOLDERS.items():
        for k in range(per_folder):
            stem = f"{folder.replace('/', '_')}_{k}_1"
            rgb = random_image(rng)
            points = rng.uniform(1, 40, size=(68, 2))
            write_image(root / folder / f"{stem}{suffix}", rgb)
            write_pts_text(root / folder / f"{stem}.pts", points)
            written[str(root / folder / f"{stem}{suffix}")] = (rgb, points)
    return written


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, dict]:
    return tmp_path / "300W", make_tree(tmp_path / "300W")


@pytest.mark.parametrize(
    ("subset", "folders"),
    [("train", ["afw", "helen/trainset", "lfpw/trainset"]), ("common", ["helen/testset", "lfpw/testset"]),
     ("challenge", ["ibug"]), ("full", ["helen/testset", "lfpw/testset", "ibug"])],
)  # fmt: skip
def test_subsets_follow_the_protocol(tree: tuple[Path, dict], subset: str, folders: list[str]) -> None:
    root, written = tree
    dataset = W300(root, subset)
    assert len(dataset) == 2 * len(folders)
    assert [Path(r.path).parent for r in dataset.records] == [root / f for f in folders for _ in range(2)]
    for item in dataset:
        rgb, points = written[item["path"]]
        assert item["image"].shape == rgb.shape and item["image"].dtype == np.uint8
        if item["path"].endswith(".png"):
            np.testing.assert_array_equal(item["image"], rgb)  # lossless: same pixels, RGB order
        else:
            assert np.abs(item["image"].astype(int) - rgb).mean() < 3  # JPEG, RGB order kept
        assert item["landmarks"].dtype == np.float32 and item["landmarks"].shape == (68, 2)
        np.testing.assert_allclose(item["landmarks"], points - 1.0, atol=1e-3)  # .pts is 1-based
        np.testing.assert_allclose(item["box"], [*(points - 1).min(0), *(points - 1).max(0)], atol=1e-3)
    assert W300.OFFICIAL_SIZES == {"train": 3148, "common": 554, "challenge": 135, "full": 689}


def test_unknown_subset_and_missing_folder(tree: tuple[Path, dict]) -> None:
    root, _ = tree
    with pytest.raises(DatasetError, match="unknown 300W subset"):
        W300(root, "test")
    for path in (root / "ibug").iterdir():
        path.unlink()
    (root / "ibug").rmdir()
    with pytest.raises(DatasetError, match=r"ibug: 300W folder not found"):
        W300(root, "challenge")


def test_pts_saved_by_windows_editors_read_the_same(tree: tuple[Path, dict]) -> None:
    """A .pts re-saved with a UTF-8 byte-order mark, CRLF line ends, tabs and blank lines gives the same points."""
    root, written = tree
    pts = root / "ibug" / "ibug_0_1.pts"
    points = written[str(pts.with_suffix(".jpg"))][1]
    rows = "\r\n".join(f"{x:.3f}\t{y:.3f}" for x, y in points)
    pts.write_bytes(f"\ufeffversion: 1\r\nn_points: 68\r\n\r\n{{\r\n{rows}\r\n}}\r\n\r\n".encode())
    item = W300(root, "challenge")[0]
    assert item["path"] == item["source"] == str(pts.with_suffix(".jpg"))
    np.testing.assert_allclose(item["landmarks"], points - 1.0, atol=1e-3)  # written with 3 decimals


def test_bad_faces_raise_or_are_reported(tree: tuple[Path, dict]) -> None:
    root, _ = tree
    folder = root / "helen" / "testset"
    bad_header = folder / "helen_testset_0_1.pts"
    bad_header.write_text(bad_header.read_text().replace("n_points:  68", "n_points 68"))
    bad_count = folder / "helen_testset_1_1.pts"
    lines = bad_count.read_text().splitlines()
    bad_count.write_text("\n".join(lines[:3] + lines[4:]).replace("n_points:  68", "n_points:  67"))
    nan_pts = root / "lfpw" / "testset" / "lfpw_testset_0_1.pts"
    nan_pts.write_text(_with_nan(nan_pts))
    orphan = root / "lfpw" / "testset" / "no_image.pts"
    orphan.write_text((root / "lfpw" / "testset" / "lfpw_testset_1_1.pts").read_text())
    lonely = root / "lfpw" / "testset" / "no_pts.png"
    write_image(lonely, np.zeros((4, 4, 3), np.uint8))

    with pytest.raises(LandmarkFileError, match=r"helen_testset_0_1\.pts: malformed header"):
        W300(root, "common")
    with pytest.warns(UserWarning, match="skipped 5 face"):
        dataset = W300(root, "common", on_error="skip")
    assert len(dataset) == 1 and dataset.records[0].path.endswith("lfpw_testset_1_1.png")
    report = {Path(p.path).name: p.problem for p in dataset.skipped}
    assert "malformed header" in report["helen_testset_0_1.pts"]
    assert "holds 67 points, expected 68" in report["helen_testset_1_1.pts"]
    assert "NaN or infinite" in report["lfpw_testset_0_1.pts"]
    assert report["no_image.pts"] == "no image file with the same name"
    assert report["no_pts.png"] == "image without a .pts annotation"
    assert all(str(p).startswith(str(root)) for p in dataset.skipped)


def test_faces_that_cannot_be_cropped_or_scored_are_named(tree: tuple[Path, dict]) -> None:
    root, _ = tree
    folder = root / "helen" / "testset"
    collapsed = folder / "helen_testset_0_1.pts"
    write_pts_text(collapsed, np.full((68, 2), 50.0))
    same_corners = folder / "helen_testset_1_1.pts"
    points = np.random.default_rng(1).uniform(1, 40, size=(68, 2))
    points[45] = points[36]  # 1-based points 46 and 37: the outer eye corners
    write_pts_text(same_corners, points)

    with pytest.raises(LandmarkFileError) as error:
        W300(root, "common")
    assert str(error.value) == f"{collapsed}: the face box (x0, y0, x1, y1) = (49, 49, 49, 49) has no area"
    with pytest.warns(UserWarning, match="skipped 2 face"):
        dataset = W300(root, "common", on_error="skip")
    assert [str(p) for p in dataset.skipped][1] == (
        f"{same_corners}: the outer eye corners (points 37 and 46) coincide: the inter-ocular distance is 0"
    )


def test_a_point_far_outside_its_image_is_named(tree: tuple[Path, dict]) -> None:
    """The 64×48 images allow points up to 32 px (half the larger side) outside them."""
    root, _ = tree
    folder = root / "helen" / "testset"
    rng = np.random.default_rng(2)
    for name, x in (("helen_testset_0_1", 64 + 33), ("helen_testset_1_1", 64 + 31)):  # 0-based x: 33 and 31 px out
        points = rng.uniform(1, 40, size=(68, 2))
        points[8] = (x + 1, 21)  # 1-based in the file: point 9, the chin
        write_pts_text(folder / f"{name}.pts", points)
    far = folder / "helen_testset_0_1.jpg"
    message = (
        f"{far}: point 9 at (97, 20) (0-based) lies 33 px outside the 64×48 image, more than half its larger side "
        "(32 px): a wrong coordinate?"
    )

    dataset = W300(root, "common")  # the images are decoded when read
    paths = [record.path for record in dataset.records]
    with pytest.raises(LandmarkFileError) as error:
        dataset[paths.index(str(far))]
    assert str(error.value) == message
    np.testing.assert_allclose(dataset[paths.index(str(far).replace("0_1", "1_1"))]["landmarks"][8], (95, 20))
    with pytest.raises(LandmarkFileError) as error:
        W300(root, "common", check_images=True)
    assert str(error.value) == message
    with pytest.warns(UserWarning, match="skipped 1 face"):
        checked = W300(root, "common", check_images=True, on_error="skip")
    assert [str(p) for p in checked.skipped] == [message] and len(checked) == len(dataset) - 1
    for workers in (0, 1):  # a worker process's error arrives as itself, not wrapped in torch's worker traceback
        with pytest.raises(LandmarkFileError) as error:
            prepare_faces(dataset, 32, workers=workers)
        assert str(error.value) == message


@pytest.mark.parametrize(
    ("point", "outside"), [((-32, 10), None), ((-32.5, 10), 32.5), ((10, 80), None), ((10, 80.5), 32.5),
                           ((96.25, -40), 40)],
)  # fmt: skip
def test_check_on_image_measures_the_distance_out_on_both_axes(point: tuple, outside: float | None) -> None:
    landmarks = np.array([[20.0, 20.0], point])  # a 64×48 image: points may lie up to 32 px outside
    if outside is None:
        check_on_image(landmarks, 48, 64)
    else:
        with pytest.raises(ValueError, match=rf"^point 2 at .* lies {outside:g} px outside the 64×48 image"):
            check_on_image(landmarks, 48, 64)


def _with_nan(path: Path) -> str:
    lines = path.read_text().splitlines()
    lines[5] = "nan 3.0"
    lines[6] = "4.0 inf"
    return "\n".join(lines) + "\n"


def test_bad_images(tree: tuple[Path, dict]) -> None:
    root, _ = tree
    folder = root / "ibug"
    jpg = sorted(folder.glob("*.jpg"))
    data = jpg[0].read_bytes()
    jpg[0].write_bytes(data[: len(data) // 2])  # truncated
    jpg[1].write_bytes(b"not an image at all")
    dataset = W300(root, "challenge")  # indexing does not decode...
    with pytest.raises(ImageFileError, match=r"ibug_0_1\.jpg: truncated JPEG"):
        dataset[0]  # ...reading does, and names the file
    with pytest.raises(ImageFileError, match=r"ibug_0_1\.jpg: truncated JPEG"):
        W300(root, "challenge", check_images=True)
    with pytest.warns(UserWarning, match="skipped 2 face"):
        checked = W300(root, "challenge", check_images=True, on_error="skip")
    assert len(checked) == 0
    assert [(Path(p.path).name, p.problem) for p in checked.skipped] == [
        ("ibug_0_1.jpg", "truncated JPEG (no end-of-image marker)"),
        ("ibug_1_1.jpg", "not a readable image"),
    ]


@pytest.mark.parametrize(
    ("kind", "message"),
    [("gray", "grayscale image"), ("16bit", "16-bit image"), ("rgba", "4-channel image")],
)
def test_unusual_pixel_formats(tree: tuple[Path, dict], kind: str, message: str) -> None:
    root, _ = tree
    png = sorted((root / "lfpw" / "trainset").glob("*.png"))[0]
    rgb = np.arange(48 * 64 * 3, dtype=np.uint8).reshape(48, 64, 3)
    encoded = {"gray": rgb[:, :, 0], "16bit": rgb[:, :, ::-1].astype(np.uint16) * 257,
               "rgba": np.dstack([rgb[:, :, ::-1], np.full((48, 64), 255, np.uint8)])}[kind]  # fmt: skip
    import cv2

    assert cv2.imwrite(str(png), encoded)
    dataset = W300(root, "train")
    index = [r.path for r in dataset.records].index(str(png))
    with pytest.raises(ImageFileError, match=rf"{png.name}: {message}"):
        dataset[index]
    image = W300(root, "train", convert=True)[index]["image"]
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    expected = np.repeat(rgb[:, :, :1], 3, axis=2) if kind == "gray" else rgb
    np.testing.assert_array_equal(image, expected)
