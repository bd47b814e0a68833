"""ffld.data.prepared.prepare_faces, the crop that training and evaluation share: dots drawn at the landmarks end up
under the cropped landmarks, and the box mode decides which box is cropped."""

import numpy as np
import pytest
import torch

from ffld.data.base import landmark_box
from ffld.data.facecrop import apply_affine, crop_matrix
from ffld.data.prepared import prepare_faces
from tests.data_formats import centroid, gaussian_dots

SIZE, ENLARGE = 48, 2.0  # wide enough that no dot is cut by the crop's edge


def _faces() -> list[dict]:
    """Two 90×100 faces of three landmarks, each drawn as a Gaussian dot in its own channel, and a dataset box
    larger than (and off-centre from) the landmarks' box."""
    rng = np.random.default_rng(3)
    items = []
    for index in range(2):
        landmarks = np.array([[35.0, 40.0], [60.0, 42.0], [47.0, 65.0]]) + rng.uniform(-3, 3, (3, 2))
        image = np.clip(gaussian_dots(90, 100, landmarks, sigma=2.5) * 255, 0, 255).round().astype(np.uint8)
        items.append(
            {
                "image": image,
                "landmarks": landmarks.astype(np.float32),
                "box": np.array([20.0, 25.0, 80.0, 85.0], np.float32),
                "occluded": np.array([False, index == 1, False]),
                "path": f"face{index}.png",
            }
        )
    return items


@pytest.mark.parametrize("box", ["landmarks", "dataset"])
def test_dots_stay_under_the_cropped_landmarks(box: str) -> None:
    items = _faces()
    faces = prepare_faces(items, SIZE, ENLARGE, box)
    assert faces.images.shape == (2, 3, SIZE, SIZE) and faces.images.dtype == torch.uint8
    for k, item in enumerate(items):
        cropped = item["box"] if box == "dataset" else landmark_box(item["landmarks"])
        np.testing.assert_allclose(faces.matrices[k].numpy(), crop_matrix(cropped, SIZE, ENLARGE), atol=1e-12)
        expected = apply_affine(crop_matrix(cropped, SIZE, ENLARGE), item["landmarks"].astype(np.float64))
        np.testing.assert_allclose(faces.landmarks[k].numpy(), expected, atol=1e-4)
        image = faces.images[k].numpy().astype(np.float64)
        dots = np.array([centroid(image[channel]) for channel in range(3)])
        np.testing.assert_allclose(dots, faces.landmarks[k].numpy(), atol=0.03)  # crop pixels; 0.012 seen
        np.testing.assert_array_equal(faces.original[k].numpy(), item["landmarks"])
        np.testing.assert_array_equal(faces.boxes[k].numpy(), item["box"])  # the dataset's box is kept either way
    assert faces.paths == ["face0.png", "face1.png"]
    np.testing.assert_array_equal(faces.extras["occluded"].numpy(), [[False, False, False], [False, True, False]])


def test_an_empty_dataset_is_refused() -> None:
    with pytest.raises(ValueError, match="evaluating: the dataset holds no faces"):
        prepare_faces([], SIZE, description="evaluating")


def test_no_more_workers_than_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped configs ask for 8 decoding processes; a process allowed on 2 CPUs starts 2."""
    started = []
    loader = torch.utils.data.DataLoader

    def recording(*args, **kwargs):
        started.append(kwargs["num_workers"])
        return loader(*args, **{**kwargs, "num_workers": 0})

    monkeypatch.setattr(torch.utils.data, "DataLoader", recording)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    for asked in (8, 1):
        prepare_faces(_faces(), SIZE, workers=asked)
    assert started == [2, 1]
