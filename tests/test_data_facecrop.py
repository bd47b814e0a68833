"""Face crop: known geometry, an independent reference matrix, dots staying under their landmarks, round trips."""

import cv2
import numpy as np
import pytest
import torch

from ffld.data import CropFace, apply_affine, crop_face, crop_matrix, invert_affine
from ffld.data.facecrop import move_item
from tests.data_formats import centroid, gaussian_dots


def test_known_geometry() -> None:
    matrix = crop_matrix(np.array([10.0, 20.0, 50.0, 40.0]), output_size=80, enlarge=1.0)
    # Square of side 40 centred on (30, 30), scale 2: its edges go to the crop's pixel edges -0.5 and 79.5.
    np.testing.assert_allclose(matrix, [[2, 0, -20.5], [0, 2, -20.5]])
    edges = apply_affine(matrix, np.array([[10.0, 10.0], [50.0, 50.0], [30.0, 30.0]]))
    np.testing.assert_allclose(edges, [[-0.5, -0.5], [79.5, 79.5], [39.5, 39.5]])


@pytest.mark.parametrize(("box", "size", "enlarge"), [((3.2, 7.9, 40.1, 29.3), 64, 1.25), ((0, 0, 10, 30), 17, 1.6)])
def test_matches_three_point_reference(box: tuple, size: int, enlarge: float) -> None:
    x0, y0, x1, y1 = box
    side = enlarge * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top, right, bottom = cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2
    source = np.float32([[left, top], [right, top], [left, bottom]])
    target = np.float32([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5]])
    reference = cv2.getAffineTransform(source, target)
    np.testing.assert_allclose(crop_matrix(np.array(box), size, enlarge), reference, atol=1e-4)


def test_dots_land_on_mapped_landmarks_and_map_back() -> None:
    rng = np.random.default_rng(9)
    points = rng.uniform([60, 50], [140, 120], size=(6, 2))
    image = (gaussian_dots(180, 200, points, sigma=3.0) * 1000).astype(np.float32)
    box = np.array([55.0, 45.0, 145.0, 125.0])
    crop, matrix = crop_face(image, box, output_size=96, enlarge=1.3)
    assert crop.shape == (96, 96, 6)
    mapped = apply_affine(matrix, points)
    measured = np.array([centroid(crop[:, :, i]) for i in range(6)])
    np.testing.assert_allclose(measured, mapped, atol=0.02)  # sub-pixel: bilinear resampling error only
    back = apply_affine(invert_affine(matrix), measured)
    np.testing.assert_allclose(back, points, atol=0.02 * (1.3 * 90 / 96))
    np.testing.assert_allclose(apply_affine(invert_affine(matrix), mapped), points, atol=1e-9)


def test_batched_torch_inverse_mapping() -> None:
    boxes = [np.array([0.0, 0.0, 20.0, 10.0]), np.array([5.0, 5.0, 9.0, 13.0])]
    matrices = torch.tensor(np.stack([crop_matrix(b, 32) for b in boxes]))
    inverses = torch.tensor(np.stack([invert_affine(crop_matrix(b, 32)) for b in boxes]))
    points = torch.rand(2, 7, 2, dtype=torch.float64) * 32
    torch.testing.assert_close(apply_affine(matrices, apply_affine(inverses, points)), points)


def test_crop_face_item_transform() -> None:
    landmarks = np.array([[20.0, 30.0], [60.0, 30.0], [40.0, 70.0]], dtype=np.float32)
    item = {"image": np.zeros((100, 90, 3), np.uint8), "landmarks": landmarks, "box": np.array([10, 20, 70, 80.0])}
    out = CropFace(64, enlarge=1.0)(item)
    assert out["image"].shape == (64, 64, 3)
    np.testing.assert_allclose(out["landmarks"], apply_affine(out["crop_matrix"].astype(np.float64), landmarks), 1e-5)
    # The landmark box (20..60 × 30..70) fills the crop exactly.
    np.testing.assert_allclose(out["landmarks"][:2, 0], [-0.5, 63.5], atol=1e-4)
    dataset_box = CropFace(64, enlarge=1.0, box="dataset")(item)
    np.testing.assert_allclose(dataset_box["box"], [-0.5, -0.5, 63.5, 63.5], atol=1e-4)
    with pytest.raises(ValueError, match="box must be"):
        CropFace(64, box="detector")
    with pytest.raises(ValueError, match="empty box"):
        crop_matrix(np.array([1.0, 1.0, 1.0, 1.0]), 64)


def _geometry_item() -> dict:
    return {
        "image": np.zeros((4, 4, 3), np.uint8),
        "landmarks": np.array([[1.0, 0.0], [0.0, 2.0]], np.float32),
        "clean_landmarks": np.array([[1.0, 0.0], [0.0, 2.0]], np.float32),
        "tangents": np.array([[1.0, 0.0], [0.6, 0.8]], np.float32),
        "occluded": np.array([True, False]),
        "box": np.array([0.0, 0.0, 2.0, 1.0], np.float32),
        "pose": np.array([20.0, 5.0, 10.0], np.float32),
        "crop_matrix": np.array([[2.0, 0.0, 1.0], [0.0, 2.0, 3.0]], np.float32),
        "path": "face.png",
    }


def test_move_item_by_hand() -> None:
    """A 90° clockwise turn (on screen, y down) then a shift of 10 px in x, every entry computed by hand."""
    item = _geometry_item()
    out = move_item(item, np.array([[0.0, -1.0, 10.0], [1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(out["landmarks"], [[10, 1], [8, 0]], atol=1e-6)
    np.testing.assert_allclose(out["clean_landmarks"], out["landmarks"], atol=0)
    np.testing.assert_allclose(out["tangents"], [[0, 1], [-0.8, 0.6]], atol=1e-6)
    np.testing.assert_array_equal(out["occluded"], item["occluded"])
    # Corners (0,0) (2,0) (0,1) (2,1) go to (10,0) (10,2) (9,0) (9,2).
    np.testing.assert_allclose(out["box"], [9, 0, 10, 2], atol=1e-6)
    np.testing.assert_allclose(out["pose"], [20, 5, 100], atol=1e-5)  # roll grows by the clockwise turn
    # crop_matrix: original (x, y) -> (2x + 1, 2y + 3) -> turned: (10 - 2y - 3, 2x + 1).
    np.testing.assert_allclose(out["crop_matrix"], [[0, -2, 7], [2, 0, 1]], atol=1e-6)
    assert out["path"] == "face.png" and out["image"] is item["image"]
    assert item["pose"][2] == 10  # the input is not modified


def test_move_item_mirror_renumbers_and_negates_yaw_and_roll() -> None:
    item = _geometry_item()
    mirror = np.array([[-1.0, 0.0, 3.0], [0.0, 1.0, 0.0]])  # x -> 3 - x
    out = move_item(item, mirror, order=np.array([1, 0]))
    np.testing.assert_allclose(out["landmarks"], [[3, 2], [2, 0]], atol=1e-6)
    np.testing.assert_allclose(out["tangents"], [[-0.6, 0.8], [-1, 0]], atol=1e-6)
    np.testing.assert_array_equal(out["occluded"], [False, True])
    np.testing.assert_allclose(out["box"], [1, 0, 3, 1], atol=1e-6)
    np.testing.assert_allclose(out["pose"], [-20, 5, -10], atol=1e-5)
    # Rolls wrap into [-180, 180): a roll of -170, mirrored (170) and turned 30° clockwise, is 200 → -160.
    turn = np.radians(30)
    mirror_turn = np.array([[-np.cos(turn), -np.sin(turn), 0.0], [-np.sin(turn), np.cos(turn), 0.0]])
    np.testing.assert_allclose(move_item({**item, "pose": np.array([0.0, 0, -170])}, mirror_turn, [1, 0])["pose"],
                               [0, 0, -160], atol=1e-4)  # fmt: skip
    with pytest.raises(ValueError, match="mirroring map needs the layout's flip permutation"):
        move_item(item, mirror)
    with pytest.raises(ValueError, match="renumbering has 3 entries but the item has 2 landmarks"):
        move_item(item, mirror, order=np.array([2, 1, 0]))


def test_crop_face_moves_synthface_geometry_and_composes_crops() -> None:
    item = _geometry_item()
    item["image"] = np.zeros((20, 20, 3), np.uint8)
    del item["crop_matrix"]
    once = CropFace(16, enlarge=2.0)(item)
    np.testing.assert_allclose(once["clean_landmarks"], once["landmarks"], atol=0)
    np.testing.assert_allclose(once["tangents"], item["tangents"], atol=1e-6)  # a scale and a shift
    np.testing.assert_allclose(once["pose"], item["pose"], atol=0)
    twice = CropFace(8, enlarge=2.0)(once)
    np.testing.assert_allclose(
        apply_affine(twice["crop_matrix"].astype(np.float64), item["landmarks"].astype(np.float64)),
        twice["landmarks"],
        atol=1e-5,
    )
