"""300VW reader against short MJPG and XVID videos with per-frame .pts files (category 3: 14 videos)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from ffld.data import VW300, DatasetError, ImageFileError, LandmarkFileError
from ffld.data.vw300 import CATEGORIES
from tests.data_formats import write_pts_text, write_video

FRAMES = 3
COLOURS = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200]], dtype=np.uint8)  # frame k is COLOURS[k]


def make_300vw(root: Path, category: int | str = 3, seed: int = 8) -> dict[tuple[str, int], np.ndarray]:
    rng = np.random.default_rng(seed)
    points = {}
    for video in CATEGORIES[category]:
        frames = [np.broadcast_to(colour, (48, 64, 3)).copy() for colour in COLOURS]
        write_video(root / video / "vid.avi", frames)
        (root / video / "annot").mkdir()
        for frame in range(FRAMES):
            p = rng.uniform(1, 40, size=(68, 2))
            write_pts_text(root / video / "annot" / f"{frame + 1:06d}.pts", p)
            points[video, frame] = p
    return points


def test_category_lists() -> None:
    assert [len(CATEGORIES[k]) for k in (1, 2, 3, "train")] == [31, 19, 14, 50]
    assert len({v for videos in CATEGORIES.values() for v in videos}) == 114  # Sect. 6.1: 114 videos
    assert CATEGORIES[3][0] == "410" and CATEGORIES["train"][0] == "009"


def test_frames_and_landmarks(tmp_path: Path) -> None:
    points = make_300vw(tmp_path)
    dataset = VW300(tmp_path, 3)
    assert len(dataset) == 14 * FRAMES
    order = [3, 0, 2, 2, 1, 4, 5]  # out of order, repeated, across videos: seeks must land on the right frame
    for index in order + list(range(len(dataset))):
        item = dataset[index]
        video, frame = item["video"], item["frame"]
        assert item["path"] == str(tmp_path / video / "vid.avi")
        assert item["source"] == f"{item['path']} [frame {frame + 1}]"
        assert item["image"].shape == (48, 64, 3) and item["image"].dtype == np.uint8
        mean_colour = item["image"].reshape(-1, 3).mean(axis=0)
        assert np.abs(mean_colour - COLOURS[frame]).max() < 12, (video, frame, mean_colour)  # MJPG is lossy
        np.testing.assert_allclose(item["landmarks"], points[video, frame] - 1.0, atol=1e-3)


def test_inter_coded_video_frames_match_sequential_decoding(tmp_path: Path) -> None:
    # An XVID video (frames predicted from earlier ones): a frame reached by seeking, in any order, must be the
    # frame a sequential decode gives, or annotations would be paired with the wrong image.
    make_300vw(tmp_path)
    rng = np.random.default_rng(3)
    texture = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    count = 40  # video 410, the first of category 3, becomes 40 XVID frames, all annotated
    write_video(tmp_path / "410" / "vid.avi", [np.roll(texture, 2 * k, axis=1) for k in range(count)], codec="XVID")
    for frame in range(count):
        write_pts_text(tmp_path / "410" / "annot" / f"{frame + 1:06d}.pts", rng.uniform(1, 40, size=(68, 2)))
    capture = cv2.VideoCapture(str(tmp_path / "410" / "vid.avi"))
    sequential = [capture.read()[1][:, :, ::-1] for _ in range(count)]
    capture.release()
    dataset = VW300(tmp_path, 3)
    for index in [37, 5, 13, 12, 39, 0, 26, 25, 24]:
        item = dataset[index]
        assert item["video"] == "410" and np.array_equal(item["image"], sequential[item["frame"]]), item["frame"]


def test_errors(tmp_path: Path) -> None:
    make_300vw(tmp_path)
    with pytest.raises(DatasetError, match="unknown 300VW category"):
        VW300(tmp_path, 4)
    with pytest.raises(DatasetError, match=r"114: 300VW folder not found"):
        VW300(tmp_path, 1)
    annot = tmp_path / "410" / "annot"
    (annot / "000004.pts").write_text((annot / "000001.pts").read_text())  # no 4th frame in the video
    (annot / "frame1.pts").write_text((annot / "000001.pts").read_text())
    (annot / "000002.pts").write_text("version: 1\nn_points: 68\n{\n1 2\n}\n")
    with pytest.raises(LandmarkFileError, match=r"410/annot/000002\.pts: header declares n_points: 68"):
        VW300(tmp_path, 3)
    with pytest.warns(UserWarning, match="skipped 3 face"):
        dataset = VW300(tmp_path, 3, on_error="skip")
    assert len(dataset) == 14 * FRAMES - 1
    problems = {Path(p.path).name: p.problem for p in dataset.skipped}
    assert problems["000004.pts"] == f"frame 4 is past the end of {tmp_path / '410' / 'vid.avi'} (3 frames)"
    assert problems["frame1.pts"].startswith("annotation name is not a 6-digit")

    (annot / "000004.pts").unlink()
    (annot / "000002.pts").rename(annot / "000002.PTS")  # not a .pts file: frame 2 has no annotation
    with pytest.warns(UserWarning) as caught:
        assert len(VW300(tmp_path, 3, on_error="skip")) == 14 * FRAMES - 1
    gap, skipped = (str(w.message) for w in caught)  # frame1.pts is still skipped
    assert gap == f"{annot}: no annotation for 1 of frames 1..3 (the first: 000002.pts); those frames are not scored"
    assert skipped.startswith("VW300: skipped 1 face(s)")
    for path in annot.iterdir():
        path.unlink()
    with pytest.raises(DatasetError) as error:
        VW300(tmp_path, 3)
    assert str(error.value) == f"{annot}: no .pts annotation (needed for category 3)"
    make_300vw(tmp_path / "again")
    tmp_path = tmp_path / "again"
    (tmp_path / "411" / "vid.avi").write_bytes(b"not a video")
    with pytest.raises(DatasetError, match=r"411/vid\.avi: OpenCV cannot open the video"):
        VW300(tmp_path, 3, on_error="skip")


def test_undecodable_frame_names_video_and_frame(tmp_path: Path) -> None:
    make_300vw(tmp_path)
    dataset = VW300(tmp_path, 3)
    video = tmp_path / "410" / "vid.avi"
    data = video.read_bytes()
    start = data.index(b"movi") + 4
    video.write_bytes(data[:start] + b"\x00" * (len(data) - start))  # frames wiped, header kept
    with pytest.raises(ImageFileError, match=r"410/vid\.avi \[frame 1\]: OpenCV cannot decode this frame"):
        dataset[0]
