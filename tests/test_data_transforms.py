"""Augmentation: a dot drawn at each landmark ends up under the transformed (and renumbered) landmark."""

import math

import numpy as np
import pytest
import torch

from ffld.data.specs import AFLW19
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
