"""Landmarks on arbitrary images: find faces, crop them as in training, predict, map back, draw.

Faces are found with the Haar-cascade frontal face detector that ships inside opencv-python
(``cv2.data.haarcascades``), or taken from boxes the user gives. The model was trained on crops around the
*landmarks'* box, which a detector's box only approximates, so prediction runs in two passes: the first from
the detector's box, the second from the box of the first pass's landmarks (the training convention). A model
trained on the dataset's own face boxes (``box: dataset``, as for AFLW) takes one pass from the detector's box, the
closest thing to its training crops.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from ffld.data.base import landmark_box
from ffld.data.facecrop import apply_affine, crop_face, invert_affine
from ffld.evaluate import predict_crops
from ffld.models import FFLD

DETECTOR = "haarcascade_frontalface_default.xml"


def detect_faces(image: np.ndarray, min_size: int = 40) -> np.ndarray:
    """Face boxes found by OpenCV's Haar cascade.

    Args:
        image: H×W×3 uint8 RGB.

    Returns:
        (F, 4) float64 boxes ``(x0, y0, x1, y1)``, largest first.
    """
    path = os.path.join(cv2.data.haarcascades, DETECTOR)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: OpenCV's Haar face detector is missing (opencv-python 4.x ships it)")
    detector = cv2.CascadeClassifier(path)
    if detector.empty():
        raise RuntimeError(f"{path}: OpenCV's face detector could not be loaded")
    gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    found = detector.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_size, min_size))
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in np.reshape(found, (-1, 4))], dtype=np.float64)
    return boxes[np.argsort(-(boxes[:, 2] - boxes[:, 0]))] if len(boxes) else boxes.reshape(0, 4)


def predict_landmarks(
    model: FFLD,
    metadata: dict[str, Any],
    image: np.ndarray,
    boxes: np.ndarray,
    device: torch.device | str = "cpu",
    passes: int | None = None,
) -> np.ndarray:
    """Predict the final stage's landmarks of every face.

    Args:
        model: a trained model; metadata: its file's metadata (``input_size``, ``enlarge``, ``box``).
        image: H×W×3 uint8 RGB.
        boxes: (F, 4) face boxes ``(x0, y0, x1, y1)``.
        passes: the first pass crops around ``boxes``, each later one around the previous landmarks' box. Default:
            2 for a model trained on crops of the landmarks' box (``metadata["box"] == "landmarks"``), 1 for one
            trained on the dataset's face boxes (AFLW's), whose crops a landmark box would not reproduce.

    Returns:
        (F, N, 2) landmarks in image pixels.
    """
    trained_on = metadata.get("box", "landmarks")
    if passes is None:
        passes = 2 if trained_on == "landmarks" else 1
    if passes > 1 and trained_on != "landmarks":
        raise ValueError(
            f"this model was trained on crops of the dataset's face boxes (box: {trained_on}), not of the landmarks' "
            "box, so it takes one pass from the face box"
        )
    size, enlarge = metadata["input_size"], metadata["enlarge"]
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    landmarks = np.zeros((len(boxes), model.num_landmarks, 2))
    for _ in range(passes):
        crops, matrices = zip(*(crop_face(image, box, size, enlarge) for box in boxes), strict=True)
        images = torch.from_numpy(np.stack(crops).transpose(0, 3, 1, 2).copy())
        stages, _ = predict_crops(model, images, device)
        landmarks = np.stack([apply_affine(invert_affine(m), p) for m, p in zip(matrices, stages[-1], strict=True)])
        boxes = np.stack([landmark_box(points) for points in landmarks]).astype(np.float64)
    return landmarks


def draw_landmarks(image: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """A copy of an H×W×3 RGB image with every face's landmarks, (F, N, 2) ``faces``, drawn as small green dots."""
    canvas = image.copy()
    radius = max(1, round(min(image.shape[:2]) / 300))
    for landmarks in faces:
        for x, y in landmarks:
            cv2.circle(canvas, (round(x), round(y)), radius, (0, 255, 0), -1, lineType=cv2.LINE_AA)
    return canvas


def save_prediction(image: np.ndarray, faces: np.ndarray, source: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Write ``<output>/<name>_landmarks.png`` and one ``.pts`` file per face; returns the drawing's path.

    Args:
        image: H×W×3 uint8 RGB; faces: (F, N, 2) landmarks in its pixels; source: the image's file (names the
            outputs); output: the folder.
    """
    from ffld.data.pts import write_pts

    folder, stem = Path(output), Path(source).stem
    folder.mkdir(parents=True, exist_ok=True)
    drawn = folder / f"{stem}_landmarks.png"
    cv2.imwrite(str(drawn), cv2.cvtColor(draw_landmarks(image, faces), cv2.COLOR_RGB2BGR))
    for index, landmarks in enumerate(faces):
        write_pts(folder / f"{stem}_face{index}.pts", landmarks)
    return drawn


__all__ = ["detect_faces", "draw_landmarks", "predict_landmarks", "save_prediction"]
