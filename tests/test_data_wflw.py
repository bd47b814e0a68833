"""WFLW reader against annotation lines in the official list_98pt_rect_attr format."""

from pathlib import Path

import numpy as np
import pytest

from ffld.data import WFLW, DatasetError, ImageFileError, LandmarkFileError
from ffld.data.wflw import ATTRIBUTES
from tests.data_formats import WFLW_FLAGS, write_wflw


def test_all_faces(tmp_path: Path) -> None:
    faces = write_wflw(tmp_path)
    dataset = WFLW(tmp_path, "test")
    assert len(dataset) == len(WFLW_FLAGS)
    for line, (item, (points, box, name), flags) in enumerate(zip(dataset, faces, WFLW_FLAGS, strict=True), start=1):
        assert item["path"] == str(tmp_path / "WFLW_images" / name)
        assert item["source"] == f"{item['path']} [list_98pt_rect_attr_test.txt:{line}]"  # one face per line
        assert item["image"].shape == (50, 70, 3)
        np.testing.assert_allclose(item["landmarks"], points, atol=1e-5)  # x_1 y_1 x_2 y_2 ... interleaved
        np.testing.assert_array_equal(item["box"], box)
        np.testing.assert_array_equal(item["attributes"], flags.astype(bool))


def test_an_annotation_file_with_a_byte_order_mark_and_crlf_reads_the_same(tmp_path: Path) -> None:
    faces = write_wflw(tmp_path)
    path = tmp_path / "WFLW_annotations" / "list_98pt_rect_attr_train_test" / "list_98pt_rect_attr_test.txt"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    dataset = WFLW(tmp_path, "test")
    assert [r.path for r in dataset.records] == [str(tmp_path / "WFLW_images" / name) for _, _, name in faces]
    np.testing.assert_allclose(dataset[0]["landmarks"], faces[0][0], atol=1e-5)


def test_an_undecodable_image_is_named_with_its_annotation_line(tmp_path: Path) -> None:
    faces = write_wflw(tmp_path)
    image = tmp_path / "WFLW_images" / faces[2][2]
    image.write_bytes(image.read_bytes()[:200])  # truncated
    dataset = WFLW(tmp_path, "test")
    with pytest.raises(ImageFileError) as error:
        dataset[2]
    assert str(error.value) == f"{image} [list_98pt_rect_attr_test.txt:3]: truncated JPEG (no end-of-image marker)"


@pytest.mark.parametrize("subset", ATTRIBUTES)
def test_attribute_subsets(tmp_path: Path, subset: str) -> None:
    faces = write_wflw(tmp_path)
    dataset = WFLW(tmp_path, "test", subset=subset)
    k = ATTRIBUTES.index(subset)
    assert [r.path for r in dataset.records] == [str(tmp_path / "WFLW_images" / faces[i][2]) for i in (k, 7)]


def test_errors(tmp_path: Path) -> None:
    write_wflw(tmp_path, split="train")
    with pytest.raises(DatasetError, match=r"list_98pt_rect_attr_test\.txt: WFLW annotation file not found"):
        WFLW(tmp_path, "test")
    with pytest.raises(DatasetError, match="unknown WFLW subset"):
        WFLW(tmp_path, "train", subset="pose")
    with pytest.raises(DatasetError, match="unknown WFLW split"):
        WFLW(tmp_path, "val")

    path = tmp_path / "WFLW_annotations" / "list_98pt_rect_attr_train_test" / "list_98pt_rect_attr_train.txt"
    lines = path.read_text().splitlines()
    fields = lines[1].split()
    lines[1] = " ".join(fields[:10] + fields[12:])  # a point short
    fields = lines[2].split()
    fields[7] = "nan"
    lines[2] = " ".join(fields)
    fields = lines[3].split()
    fields[-1] = "missing/image.jpg"
    lines[3] = " ".join(fields)
    fields = lines[4].split()
    fields[196] = "x"
    lines[4] = " ".join(fields)
    fields = lines[5].split()
    fields[200] = "1.0"  # the first attribute flag
    lines[5] = " ".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LandmarkFileError, match=r"list_98pt_rect_attr_train\.txt:2: expected 207 fields"):
        WFLW(tmp_path, "train")
    with pytest.warns(UserWarning, match="skipped 5 face"):
        dataset = WFLW(tmp_path, "train", on_error="skip")
    assert len(dataset) == len(WFLW_FLAGS) - 5
    assert [p.path.rsplit(":", 1)[1] for p in dataset.skipped] == ["2", "3", "4", "5", "6"]
    assert "point 4 has a NaN" in dataset.skipped[1].problem
    assert dataset.skipped[2].problem.endswith("missing/image.jpg not found")
    assert dataset.skipped[3].problem == "field 197 is 'x', not a number"  # 1-based, as an editor counts
    assert dataset.skipped[4].problem == "field 201 is '1.0', not an integer flag"
