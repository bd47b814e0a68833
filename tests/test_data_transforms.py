"""Augmentation: a dot drawn at each landmark ends up under the transformed (and renumbered) landmark."""

import math

import numpy as np
import pytest
import torch

from ffld.data.base import landmark_box
from ffld.data.specs import AFLW19, IBUG68
from ffld.data.synthetic import SynthFaceConfig, render_sample
from ffld.data.transforms import AffineParams, LandmarkAugment, affine_matrices, flip_points, warp_images
from tests.data_formats import centroid, gaussian_dots

SIZE = 96
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def face_points(rng: np.random.Generator, count: int, spacing: float = 6.0) -> np.ndarray:
    """Points around the centre, ``spacing`` px apart or more, far enough in to stay inside after ±20 %/±10 %/±20°."""
    points: list[np.ndarray] = []
    while len(points) < count:
        p = rng.uniform(SIZE / 2 - 22, SIZE / 2 + 22, size=2)
        if all(np.hypot(*(p - q)) > spacing for q in points):
            points.append(p)
    return np.array(points)


def params(scale=1.0, tx=0.0, ty=0.0, degrees=0.0, flip=False) -> AffineParams:
    t = lambda v: torch.tensor([v], dtype=torch.float64)  # noqa: E731
    return AffineParams(t(scale), t(tx), t(ty), t(math.radians(degrees)), torch.tensor([flip]))


def test_matrix_construction() -> None:
    flip = affine_matrices(params(flip=True), 10, 20)[0]
    np.testing.assert_allclose(flip.numpy(), [[-1, 0, 19], [0, 1, 0], [0, 0, 1]])  # x -> W-1-x
    m = affine_matrices(params(scale=1.2, tx=0.1, ty=-0.05, degrees=20), 30, 40)[0].numpy()
    centre = np.array([19.5, 14.5, 1.0])
    np.testing.assert_allclose(m @ centre, [19.5 + 4.0, 14.5 - 1.5, 1.0])  # centre moves by t only
    c, s = math.cos(math.radians(20)), math.sin(math.radians(20))
    np.testing.assert_allclose(m[:2, :2], 1.2 * np.array([[c, -s], [s, c]]))


def test_sampling_ranges_and_seed() -> None:
    draws = LandmarkAugment(AFLW19.flip_permutation, generator=torch.Generator().manual_seed(0)).sample(20000)
    assert 0.8 <= draws.scale.min() < 0.801 and 1.199 < draws.scale.max() <= 1.2
    assert -0.1 <= draws.translate_x.min() < -0.099 and 0.099 < draws.translate_y.max() <= 0.1
    assert -math.radians(20) <= draws.angle.min() < -math.radians(19.9) and draws.angle.max() <= math.radians(20)
    assert 0.48 < draws.flip.double().mean() < 0.52
    again = LandmarkAugment(AFLW19.flip_permutation, generator=torch.Generator().manual_seed(0)).sample(20000)
    assert all(torch.equal(a, b) for a, b in zip(draws, again, strict=True))


@pytest.mark.parametrize("device", DEVICES)
def test_pure_flip_mirrors_pixels_exactly(device: str) -> None:
    images = torch.rand(1, 3, 12, 17, device=device)
    matrices = affine_matrices(params(flip=True), 12, 17).to(device)
    torch.testing.assert_close(warp_images(images, matrices), images.flip(-1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("device", DEVICES)
def test_batch_dots_stay_under_landmarks(device: str) -> None:
    """19 landmarks, one dot per channel: after augmentation, landmark i sits on dot perm[i] if flipped."""
    rng = np.random.default_rng(10)
    batch = 8
    points = np.stack([face_points(rng, 19) for _ in range(batch)])
    images = np.stack([gaussian_dots(SIZE, SIZE, p).transpose(2, 0, 1) for p in points])
    augment = LandmarkAugment(AFLW19.flip_permutation, generator=torch.Generator().manual_seed(1))
    drawn = augment.sample(batch)
    drawn = drawn._replace(flip=torch.tensor([True, False] * (batch // 2)))  # both cases, whatever the seed
    out = augment.batch(
        torch.tensor(images, dtype=torch.float32, device=device),
        torch.tensor(points, dtype=torch.float32, device=device),
        drawn,
    )
    assert out.images.device.type == device and out.landmarks.device.type == device
    warped, landmarks = out.images.cpu().numpy(), out.landmarks.cpu().numpy()
    perm = np.array(AFLW19.flip_permutation)
    for b in range(batch):
        order = perm if bool(drawn.flip[b]) else np.arange(19)
        measured = np.array([centroid(warped[b, order[i]]) for i in range(19)])
        np.testing.assert_allclose(measured, landmarks[b], atol=0.03)  # sub-pixel: bilinear resampling of σ=1.5 px dots


@pytest.mark.parametrize("device", DEVICES)
def test_uint8_rgb_batch(device: str) -> None:
    """A uint8 RGB batch (the training input) keeps its dtype; landmarks stay on their dots."""
    rng = np.random.default_rng(11)
    points = np.stack([face_points(rng, 6, spacing=14.0) for _ in range(4)])
    dots = [gaussian_dots(SIZE, SIZE, p, sigma=1.5).sum(-1) for p in points]
    images = np.stack([np.repeat((d * 250).round()[None], 3, axis=0) for d in dots]).astype(np.uint8)
    augment = LandmarkAugment([1, 0, 3, 2, 4, 5], generator=torch.Generator().manual_seed(2))
    out = augment.batch(torch.tensor(images, device=device), torch.tensor(points, dtype=torch.float32, device=device))
    assert out.images.dtype == torch.uint8
    warped = out.images.cpu().numpy().astype(float)[:, 0]
    for b in range(4):
        for x, y in out.landmarks[b].cpu().numpy():
            xi, yi = np.round([x, y]).astype(int)
            window = warped[b, yi - 4 : yi + 5, xi - 4 : xi + 5]
            local = centroid(window) + np.array([xi - 4, yi - 4])
            np.testing.assert_allclose(local, [x, y], atol=0.05)  # 8-bit rounding of the dots


def test_single_item_path_with_cv2() -> None:
    rng = np.random.default_rng(12)
    points = face_points(rng, 3)
    image = gaussian_dots(SIZE, SIZE, points).astype(np.float32)
    item = {"image": image, "landmarks": points.astype(np.float32), "occluded": np.array([True, False, False])}
    augment = LandmarkAugment([1, 0, 2], flip=1.0, generator=torch.Generator().manual_seed(3))
    out = augment(item)
    measured = np.array([centroid(out["image"][:, :, j]) for j in (1, 0, 2)])  # flipped: 0 and 1 swap
    np.testing.assert_allclose(measured, out["landmarks"], atol=0.03)
    np.testing.assert_array_equal(out["occluded"], [False, True, False])
    assert out["augment_matrix"].shape == (3, 3)


def _jaw_tangent_alignment(points: np.ndarray, tangents: np.ndarray) -> np.ndarray:
    """|cos| of the angle between each inner jaw landmark's tangent and the chord between its two neighbours."""
    chords = points[2:17] - points[0:15]
    chords /= np.linalg.norm(chords, axis=1, keepdims=True)
    return np.abs(np.sum(chords * tangents[1:16], axis=1))


def _eye_line_degrees(points: np.ndarray) -> float:
    """Direction of outer eye corner 36 → 45 on screen (y down: clockwise positive)."""
    dx, dy = points[45] - points[36]
    return math.degrees(math.atan2(dy, dx))


@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_item_path_moves_synthface_geometry_with_the_landmarks(flip: float) -> None:
    """Invariants of a similarity map, checked on a SynthFace face's own annotations: the exact landmarks move
    with the annotated ones, tangents keep their angle to the jaw, the box still encloses the face, and (eye line
    − roll) is kept, or negated under a mirror, since a mirror negates both and a turn adds to both."""
    sample = render_sample(SynthFaceConfig(image_size=128), "common", 0)
    record = sample.record
    item = {
        "image": sample.image,
        "landmarks": sample.landmarks.astype(np.float32),
        "clean_landmarks": np.asarray(record["clean_landmarks"], np.float32),
        "tangents": np.asarray(record["tangents"], np.float32),
        "pose": np.asarray(record["pose"], np.float32),
        "box": np.asarray(record["box"], np.float32),
    }
    np.testing.assert_allclose(item["landmarks"], item["clean_landmarks"], atol=1e-3)  # no annotation noise
    before = _jaw_tangent_alignment(item["clean_landmarks"], item["tangents"])
    assert np.median(before) > 0.9  # the jaw's tangents do follow the jaw
    augment = LandmarkAugment(IBUG68.flip_permutation, flip=flip, generator=torch.Generator().manual_seed(5))
    out = augment(item)
    np.testing.assert_allclose(out["clean_landmarks"], out["landmarks"], atol=2e-3)
    renumbered = before[::-1] if flip else before  # a flip renumbers jaw point i as 16 - i
    np.testing.assert_allclose(_jaw_tangent_alignment(out["clean_landmarks"], out["tangents"]), renumbered, atol=1e-4)
    x0, y0, x1, y1 = out["box"]
    low, high = landmark_box(out["clean_landmarks"]).reshape(2, 2)
    assert x0 <= low[0] + 1e-3 and y0 <= low[1] + 1e-3 and x1 >= high[0] - 1e-3 and y1 >= high[1] - 1e-3
    sign = -1.0 if flip else 1.0
    kept = _eye_line_degrees(out["clean_landmarks"]) - out["pose"][2]
    expected = sign * (_eye_line_degrees(item["clean_landmarks"]) - item["pose"][2])
    assert abs((kept - expected + 180) % 360 - 180) < 1e-3
    assert out["pose"][0] == pytest.approx(sign * item["pose"][0], abs=1e-5) and out["pose"][1] == item["pose"][1]


def test_permutation_of_another_layout_is_refused() -> None:
    item = {"image": np.zeros((SIZE, SIZE, 3), np.uint8), "landmarks": np.zeros((68, 2), np.float32)}
    augment = LandmarkAugment(AFLW19.flip_permutation, flip=0.0)
    message = "the flip permutation has 19 entries but the landmarks number 68"
    with pytest.raises(ValueError, match=message):
        augment(item)  # even when no flip is drawn
    with pytest.raises(ValueError, match=message):
        augment.batch(torch.zeros(1, 3, SIZE, SIZE), torch.zeros(1, 68, 2))


def test_flip_points() -> None:
    values = torch.arange(6).reshape(2, 3)
    out = flip_points(values, torch.tensor([True, False]), torch.tensor([2, 1, 0]))
    assert out.tolist() == [[2, 1, 0], [3, 4, 5]]


def test_landmark_map_agrees_with_torchvision_keypoints() -> None:
    """Independent reference: torchvision's keypoint-aware affine (pixel-edge coordinates, hence ±0.5)."""
    tv_tensors = pytest.importorskip("torchvision.tv_tensors")
    if not hasattr(tv_tensors, "KeyPoints"):
        pytest.skip("this torchvision has no KeyPoints")
    from torchvision.transforms.v2 import functional as TF

    height, width = 60, 80
    points = torch.tensor([[10.0, 12.0], [40.5, 33.25], [70.0, 50.0]])
    for scale, tx, ty, degrees in [(1.15, 0.05, -0.08, 17.0), (0.85, -0.1, 0.1, -20.0)]:
        m = affine_matrices(params(scale, tx, ty, degrees), height, width)[0]
        ours = points.double() @ m[:2, :2].T + m[:2, 2]
        keypoints = tv_tensors.KeyPoints(points + 0.5, canvas_size=(height, width))
        theirs = TF.affine(keypoints, angle=degrees, translate=[tx * width, ty * height], scale=scale, shear=[0.0, 0.0])
        torch.testing.assert_close(ours.float(), theirs.as_subclass(torch.Tensor) - 0.5, atol=1e-4, rtol=0)
