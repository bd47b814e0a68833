"""ffld predict: OpenCV's face detector finds SynthFace faces, two-pass prediction maps back to the image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from ffld.data.base import landmark_box
from ffld.data.facecrop import apply_affine, crop_matrix, invert_affine
from ffld.data.pts import read_pts
from ffld.data.synthetic import SynthFaceConfig, render_sample
from ffld.models import FFLD
from ffld.predict import detect_faces, draw_landmarks, predict_landmarks, save_prediction


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - width * height
    return width * height / union


@pytest.fixture(scope="module")
def detected_face():
    """The first of a few frontal SynthFace renders in which the detector finds a face."""
    config = SynthFaceConfig()
    for index in range(20):
        sample = render_sample(config, "common", index)
        boxes = detect_faces(sample.image)
        if len(boxes):
            return sample, boxes
    pytest.fail("OpenCV's detector found no face in 20 SynthFace renders")


def test_detector_box_overlaps_the_face(detected_face):
    sample, boxes = detected_face
    assert box_iou(boxes[0], landmark_box(sample.landmarks)) > 0.3


def test_missing_detector_file_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(cv2.data, "haarcascades", str(tmp_path) + "/")
    with pytest.raises(FileNotFoundError, match=f"^{tmp_path}/haarcascade_frontalface_default.xml: OpenCV's Haar"):
        detect_faces(np.zeros((64, 64, 3), dtype=np.uint8))


def test_detector_finds_no_face_in_noise():
    noise = np.random.default_rng(0).integers(0, 256, size=(200, 200, 3), dtype=np.uint8)
    assert detect_faces(noise).shape == (0, 4)


def test_two_pass_prediction_maps_crops_back_to_the_image(detected_face, tmp_path):
    """A model whose output is fixed (shape P in crop pixels) must give P mapped back through each pass's crop:
    the detector's box first, then the box of the first pass's landmarks."""
    sample, boxes = detected_face
    size, enlarge = 64, 1.25
    shape = np.random.default_rng(0).uniform(12, 52, size=(68, 2))
    model = FFLD(68, stages=1).eval()
    model.init_mean_shape(torch.from_numpy(shape).float(), (size, size))  # S0 = shape whatever the image
    metadata = {"input_size": size, "enlarge": enlarge}

    def back(box: np.ndarray) -> np.ndarray:
        return apply_affine(invert_affine(crop_matrix(box, size, enlarge)), shape)

    first = back(boxes[0])
    np.testing.assert_allclose(
        predict_landmarks(model, metadata, sample.image, boxes[:1], passes=1)[0], first, atol=1e-4
    )
    second = predict_landmarks(model, metadata, sample.image, boxes[:1], passes=2)
    np.testing.assert_allclose(second[0], back(landmark_box(first)), atol=1e-4)
    np.testing.assert_allclose(predict_landmarks(model, metadata, sample.image, boxes[:1])[0], second[0], atol=1e-9)
    # A model trained on the dataset's face boxes takes one pass by default, and refuses a second.
    on_face_boxes = {**metadata, "box": "dataset"}
    np.testing.assert_allclose(predict_landmarks(model, on_face_boxes, sample.image, boxes[:1])[0], first, atol=1e-4)
    with pytest.raises(ValueError, match=r"trained on crops of the dataset's face boxes \(box: dataset\)"):
        predict_landmarks(model, on_face_boxes, sample.image, boxes[:1], passes=2)
    drawn = save_prediction(sample.image, second, "face.png", tmp_path)
    assert drawn.exists()
    np.testing.assert_allclose(read_pts(tmp_path / "face_face0.pts"), second[0], atol=1e-5)


def test_draw_landmarks_marks_each_point_green_on_a_copy():
    image = np.zeros((300, 600, 3), np.uint8)
    faces = np.array([[[10.2, 20.4], [500.0, 250.0]], [[300.0, 100.0], [0.0, 0.0]]])
    drawn = draw_landmarks(image, faces)
    assert not image.any()  # the input is left as it was
    for x, y in faces.reshape(-1, 2):
        assert tuple(drawn[round(y), round(x)]) == (0, 255, 0)
    assert drawn[150, 150].tolist() == [0, 0, 0] and drawn[..., [0, 2]].max() == 0  # only green, only near points
