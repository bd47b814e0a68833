"""Writers of the benchmarks' official file formats, for test fixtures.

They are written from the format descriptions (not with ffld's readers): the iBUG ``.pts`` text layout, MATLAB
v5 MAT-files through ``scipy.io.savemat``, MATLAB v7.3 MAT-files as HDF5 with MATLAB's 512-byte header, column-major
(transposed) arrays, ``MATLAB_class`` attributes and cell arrays as object references into ``#refs#``, WFLW
annotation lines, and 300VW videos through ``cv2.VideoWriter`` (MJPG in AVI).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np
import scipy.io


def gaussian_dots(height: int, width: int, points: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """(H, W, N) float64 image; channel i holds a unit-peak Gaussian dot centred at points[i] (0-based x, y)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    dots = [np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)) for x, y in np.asarray(points)]
    return np.stack(dots, axis=-1)


def centroid(channel: np.ndarray) -> np.ndarray:
    """(x, y) intensity centroid of a 2-D array."""
    yy, xx = np.mgrid[0 : channel.shape[0], 0 : channel.shape[1]]
    total = channel.sum()
    return np.array([(channel * xx).sum() / total, (channel * yy).sum() / total])


def write_pts_text(path: Path, points_one_based: np.ndarray) -> None:
    """An iBUG .pts file, as 300W and 300VW ship them (values already 1-based)."""
    rows = "\n".join(f"{x:.3f} {y:.3f}" for x, y in points_one_based)
    path.write_text(f"version: 1\nn_points:  {len(points_one_based)}\n{{\n{rows}\n}}\n")


def write_image(path: Path, rgb: np.ndarray) -> None:
    """Encode an RGB uint8 image (JPEG or PNG by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))


def random_image(rng: np.random.Generator, height: int = 48, width: int = 64) -> np.ndarray:
    """A smooth random RGB image (JPEG keeps it within a few grey levels), each channel different."""
    coarse = rng.uniform(0, 255, size=(4, 4, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(smooth, 0, 255).round().astype(np.uint8)


# -- MATLAB ----------------------------------------------------------------------------------------------------

_MAT73_HEADER = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."


def _class_of(array: np.ndarray) -> str:
    return {"float64": "double", "uint8": "uint8", "uint16": "uint16", "bool": "logical"}[array.dtype.name]


def write_mat_v73(path: Path, variables: dict[str, object]) -> None:
    """A MATLAB v7.3 MAT-file: arrays as column-major datasets, lists as N×1 cell arrays, str as char rows."""

    counter = iter(range(10**6))

    def store(group: h5py.Group, name: str, value: object) -> h5py.Dataset:
        if isinstance(value, str):
            codes = np.array([[ord(c)] for c in value], dtype=np.uint16)  # 1×L char, stored transposed (L, 1)
            dataset = group.create_dataset(name, data=codes)
            dataset.attrs["MATLAB_class"] = np.bytes_("char")
            dataset.attrs["MATLAB_int_decode"] = np.int32(2)
            return dataset
        if isinstance(value, list):
            refs = group.file.require_group("#refs#")
            elements = [store(refs, f"e{next(counter)}", element) for element in value]
            dataset = group.create_dataset(name, shape=(1, len(value)), dtype=h5py.ref_dtype)  # N×1 transposed
            for i, element in enumerate(elements):
                dataset[0, i] = element.ref
            dataset.attrs["MATLAB_class"] = np.bytes_("cell")
            return dataset
        array = np.asarray(value)
        dataset = group.create_dataset(name, data=array.T)  # MATLAB is column-major
        dataset.attrs["MATLAB_class"] = np.bytes_(_class_of(array))
        return dataset

    with h5py.File(path, "w", userblock_size=512) as file:
        for name, value in variables.items():
            store(file, name, value)
    header = _MAT73_HEADER.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as raw:
        raw.write(header.ljust(512, b"\x00"))


def write_mat_v5(path: Path, variables: dict[str, object]) -> None:
    """A MATLAB v5 MAT-file: lists become N×1 cell arrays."""
    converted = {}
    for name, value in variables.items():
        if isinstance(value, list):
            cell = np.empty((len(value), 1), dtype=object)
            for i, element in enumerate(value):
                cell[i, 0] = element
            converted[name] = cell
        else:
            converted[name] = value
    scipy.io.savemat(path, converted)


# -- datasets --------------------------------------------------------------------------------------------------


def cofw_variables(
    rng: np.random.Generator, split: str, count: int = 3
) -> tuple[dict[str, object], list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """COFW fields for ``count`` faces: images (one grayscale), phis (1-based, with occlusion), bboxes.

    Returns ``(variables, images, landmarks_one_based (count, 29, 2), occlusion (count, 29), boxes)``.
    """
    images = [random_image(rng, 40 + 4 * i, 50 + 2 * i) for i in range(count)]
    images[-1] = images[-1][:, :, 0].copy()  # COFW holds some grayscale images
    points = rng.uniform(5, 35, size=(count, 29, 2))
    occlusion = (rng.random((count, 29)) < 0.3).astype(np.float64)
    phis = np.concatenate([points[:, :, 0], points[:, :, 1], occlusion], axis=1)
    boxes = np.column_stack([rng.uniform(1, 5, count), rng.uniform(1, 5, count), rng.uniform(20, 30, (count, 2))])
    suffix = "Tr" if split == "train" else "T"
    variables = {f"Is{suffix}": images, f"phis{suffix}": phis, f"bboxes{suffix}": boxes}
    return variables, images, points, occlusion, boxes


AFLW_TOTAL = 24386


def write_aflw(root: Path, rng: np.random.Generator, image_names: list[str]) -> dict[str, np.ndarray]:
    """``AFLWinfo_release.mat`` (v5) with 24386 faces spread over a few small images, and those images."""
    for name in image_names:
        write_image(root / "data" / "flickr" / name, random_image(rng, 60, 60))
    names = [image_names[i % len(image_names)] for i in range(AFLW_TOTAL)]
    xy = rng.uniform(10, 50, size=(AFLW_TOTAL, 2, 19))
    mask = (rng.random((AFLW_TOTAL, 19)) < 0.97).astype(np.float64)
    lefts, tops = rng.uniform(1, 8, AFLW_TOTAL), rng.uniform(1, 8, AFLW_TOTAL)
    bbox = np.column_stack([lefts, lefts + 45, tops, tops + 48])  # [left, right, top, bottom]
    ra = (rng.permutation(AFLW_TOTAL) + 1).astype(np.float64)[None]
    variables = {"bbox": bbox, "data": xy.reshape(AFLW_TOTAL, 38), "mask_new": mask, "nameList": names, "ra": ra}
    write_mat_v5(root / "AFLWinfo_release.mat", variables)
    return {"bbox": bbox, "xy": xy, "mask": mask, "ra": ra[0], "names": np.array(names)}


def wflw_line(points: np.ndarray, box: np.ndarray, flags: np.ndarray, name: str) -> str:
    numbers = [f"{v:.6f}" for v in points.reshape(-1)] + [str(int(v)) for v in box]
    return " ".join([*numbers, *(str(int(f)) for f in flags), name])


# One face per attribute, plus one with none and one with all.
WFLW_FLAGS = np.vstack([np.eye(6, dtype=int), np.zeros(6, int), np.ones(6, int)])


def write_wflw(
    root: Path, split: str = "test", seed: int = 7, flags: np.ndarray = WFLW_FLAGS
) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """WFLW's ``list_98pt_rect_attr_<split>.txt`` with one face per row of ``flags`` (its six attribute flags), and
    their images. Returns each face's ``(points (98, 2), box (4,), image name)``."""
    rng = np.random.default_rng(seed)
    faces, lines = [], []
    for k, face_flags in enumerate(flags):
        name = f"{k}--Event/{k}_Event_image_{k}.jpg"
        write_image(root / "WFLW_images" / name, random_image(rng, 50, 70))
        points = rng.uniform(0, 60, size=(98, 2))
        box = np.array([3, 4, 60, 45]) + k
        lines.append(wflw_line(points, box, face_flags, name))
        faces.append((points, box, name))
    folder = root / "WFLW_annotations" / "list_98pt_rect_attr_train_test"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"list_98pt_rect_attr_{split}.txt").write_text("\n".join(lines) + "\n")
    return faces


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0, codec: str = "MJPG") -> None:
    """An AVI of RGB frames: MJPG (every frame a key frame) or e.g. XVID (inter-coded, a key frame every 12)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()
