"""End to end: 300W files → reader → face crop → DataLoader batch → device-side augmentation, dots still under
their landmarks."""

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ffld.data import W300, CropFace
from ffld.data.specs import IBUG68
from ffld.data.transforms import LandmarkAugment
from tests.data_formats import centroid, write_image, write_pts_text

DOTS = [36, 45, 30, 48, 54, 8]  # eye corners, nose tip, mouth corners, chin: well apart on a face
DOT_PLACES = np.array([[40, 40], [120, 40], [80, 75], [50, 105], [110, 105], [80, 135]], dtype=float)


def test_reader_crop_loader_augment(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    yy, xx = np.mgrid[0:150, 0:160]
    for k in range(4):
        points = rng.uniform([60, 50], [100, 120], size=(68, 2))  # inside the dots: they set the box
        points[DOTS] = DOT_PLACES + rng.uniform(-2, 2, (6, 2))
        image = np.zeros((150, 160))
        for x, y in points[DOTS]:
            image += 250 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 3.5**2))
        write_image(tmp_path / "ibug" / f"face_{k}.png", np.repeat(image.round().astype(np.uint8)[:, :, None], 3, 2))
        write_pts_text(tmp_path / "ibug" / f"face_{k}.pts", points + 1.0)

    dataset = W300(tmp_path, "challenge", transform=CropFace(96, enlarge=1.6))
    batch = next(iter(DataLoader(dataset, batch_size=4)))
    images = batch["image"].permute(0, 3, 1, 2)  # (B, 3, 96, 96) uint8
    assert images.shape == (4, 3, 96, 96) and images.dtype == torch.uint8
    augment = LandmarkAugment(IBUG68.flip_permutation, generator=torch.Generator().manual_seed(4))
    params = augment.sample(4)._replace(flip=torch.tensor([True, False, True, False]))
    out = augment.batch(images, batch["landmarks"], params)

    warped = out.images[:, 0].numpy().astype(float)
    checked = 0
    for b in range(4):
        for index in DOTS:  # flipped or not, the landmark numbered `index` must sit on a dot
            x, y = out.landmarks[b, index].numpy()
            xi, yi = np.round([x, y]).astype(int)
            if not (7 <= xi < 96 - 7 and 7 <= yi < 96 - 7):
                continue  # pushed (nearly) out of the image by the augmentation: no whole dot to measure
            checked += 1
            local = centroid(warped[b, yi - 7 : yi + 8, xi - 7 : xi + 8]) + np.array([xi - 7, yi - 7])
            np.testing.assert_allclose(local, [x, y], atol=0.05)  # 8-bit dots, resampled twice (crop, augmentation)
        left_eye, right_eye = out.landmarks[b, 36, 0], out.landmarks[b, 45, 0]
        assert left_eye < right_eye  # renumbered on flips: landmark 36 stays the image-left eye corner
    assert checked >= 20
