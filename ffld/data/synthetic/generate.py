"""Generating SynthFace: one image at a time from (seed, split, index), a whole benchmark on disk, and its cache.

Layout (each split folder is laid out as a 300W subset: images beside their ``.pts`` files, which
:func:`ffld.data.w300.annotated_images` and :func:`ffld.data.pts.read_pts` read)::

    root/config.json                 the SynthFaceConfig, its hash and the split sizes
    root/<split>/<id>.png or .jpg    the image (JPEG when the split's JPEG degradation was drawn)
    root/<split>/<id>.pts            the annotated landmarks (noisy when annotation noise is configured)
    root/<split>/meta.json           {"split", "config_hash", "images": [one record per image]}

A record holds (coordinates are 0-based (x, y) pixels of the stored image): ``id``, ``file``, ``width``,
``height``; ``pose``: [yaw, pitch, roll] in degrees (see :class:`~ffld.data.synthetic.config.SplitConfig` for
the signs); ``box``: [x0, y0, x1, y1] of the clean landmarks; ``clean_landmarks``: 68 × [x, y];
``tangents``: 68 unit [tx, ty], the direction of the boundary at each landmark (at a corner: the corner's axis);
``visibility``: 68 codes, 0 visible, 1 hidden by an occluder, 2 hidden by the face itself (facing away, behind
the nose, or another part of the face within 1.5 px); ``occluders``: their kinds; ``expression``: mouth_open
(0 = closed), smile, brow_raise, eye_open (per eye, 0 = closed); ``hair``; ``face_scale``: pixels per half face
width; ``degradations``: blur (Gaussian sigma), motion_blur (length), downscale (factor), noise (sigma),
jpeg_quality, each None when not applied.

Every image is drawn from its own ``numpy.random.default_rng((seed, split code, index))`` and its annotation
noise from ``default_rng((seed, split code, index, 1))``, so any image can be regenerated alone, the order and
number of worker processes do not matter, and the images do not depend on the noise settings.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ffld.cpus import usable_cpus
from ffld.data.pts import write_pts
from ffld.data.synthetic.annotation import annotate
from ffld.data.synthetic.appearance import sample_appearance
from ffld.data.synthetic.config import SPLITS, SynthFaceConfig
from ffld.data.synthetic.degrade import degrade
from ffld.data.synthetic.facemodel import sample_face
from ffld.data.synthetic.geometry import rotation_matrix
from ffld.data.synthetic.scene import Scene, build_scene

SPLIT_CODES = {"train": 0, "common": 1, "challenge": 2}
DEFAULT_CACHE = "data/cache/synthface"


@dataclass
class Sample:
    """One generated image.

    Attributes:
        id: "<split>_<index>", the file name without extension.
        image: the stored H×W×3 uint8 RGB image (after degradations; decoded back for JPEG).
        data: the bytes of the image file.
        extension: ".png" or ".jpg".
        landmarks: (68, 2) annotated landmarks (0-based x, y in the stored image).
        record: the image's entry in ``meta.json``.
        scene: the scene it was rendered from (render resolution, before degradations).
        labels: the part-label map at render resolution.
    """

    id: str
    image: np.ndarray
    data: bytes
    extension: str
    landmarks: np.ndarray
    record: dict[str, Any]
    scene: Scene
    labels: np.ndarray


def _round(values: np.ndarray, digits: int = 4) -> list:
    return np.round(np.asarray(values, np.float64), digits).tolist()


def render_sample(config: SynthFaceConfig, split: str, index: int) -> Sample:
    """Draw and render image ``index`` of ``split``, exactly as :func:`generate_synthface` stores it."""
    split_config = config.split(split)
    code = SPLIT_CODES[split]
    rng = np.random.default_rng((config.seed, code, index))
    size = config.image_size
    yaw = rng.uniform(*split_config.yaw) * rng.choice((-1.0, 1.0))
    pitch = rng.uniform(-split_config.pitch, split_config.pitch)
    roll = rng.uniform(-split_config.roll, split_config.roll)
    face = sample_face(rng)
    appearance = sample_appearance(rng, rotation_matrix(yaw, pitch, roll)[:, 0])
    scale = rng.uniform(*config.face_scale) * size / 2
    jitter = rng.uniform(-0.06, 0.06, 2) * size
    occluded = bool(rng.uniform() < split_config.occluder_prob)
    scene = build_scene(rng, face, appearance, (yaw, pitch, roll), size, scale, jitter, occluded)
    rendered, labels = scene.render()
    visibility = scene.visibility(labels)
    image, data, extension, degradations = degrade(rng, rendered, split_config)
    factor = size / image.shape[0]
    clean = (scene.landmarks + 0.5) / factor - 0.5
    noise_rng = np.random.default_rng((config.seed, code, index, 1))
    landmarks = annotate(noise_rng, clean, scene.tangents, config.noise_along, config.noise_across)
    sample_id = f"{split}_{index:05d}"
    e = face.expression
    record = {
        "id": sample_id,
        "file": sample_id + extension,
        "width": int(image.shape[1]),
        "height": int(image.shape[0]),
        "pose": _round([yaw, pitch, roll]),
        "box": _round([*clean.min(axis=0), *clean.max(axis=0)]),
        "clean_landmarks": _round(clean),
        "tangents": _round(scene.tangents),
        "visibility": visibility.tolist(),
        "occluders": scene.occluders,
        "expression": {
            "mouth_open": round(e.mouth_open, 4),
            "smile": round(e.smile, 4),
            "brow_raise": round(e.brow_raise, 4),
            "eye_open": _round(e.eye_open),
        },
        "hair": appearance.hair_style,
        "face_scale": round(scene.scale / factor, 4),
        "degradations": {key: None if value is None else round(value, 4) for key, value in degradations.items()},
    }
    return Sample(sample_id, image, data, extension, landmarks, record, scene, labels)


def write_images(config: SynthFaceConfig, folder: Path, tasks: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """Render images ``tasks`` ((split, index) pairs) into ``folder/<split>/``; returns their metadata records."""
    records = []
    for split, index in tasks:
        sample = render_sample(config, split, index)
        (folder / split / sample.record["file"]).write_bytes(sample.data)
        write_pts(folder / split / (sample.id + ".pts"), sample.landmarks)
        records.append(sample.record)
    return records


def _run_workers(config: SynthFaceConfig, folder: Path, tasks: list[tuple[str, int]], workers: int) -> list[dict]:
    """Render ``tasks`` with ``workers`` subprocesses (see :mod:`ffld.data.synthetic.worker`), task k going to
    worker k mod ``workers``; returns the records in the order of ``tasks``. Jobs and results go through
    files in ``folder``."""
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[3])  # so that the worker imports this very ffld
    env["PYTHONPATH"] = os.pathsep.join([package_parent, *filter(None, [env.get("PYTHONPATH")])])
    processes = []
    for k in range(workers):
        job, output = folder / f".job-{k}.json", folder / f".records-{k}.json"
        job.write_text(json.dumps({"config": config.to_dict(), "folder": str(folder), "tasks": tasks[k::workers]}))
        command = [sys.executable, "-m", "ffld.data.synthetic.worker", str(job), str(output)]
        processes.append((subprocess.Popen(command, env=env, stderr=subprocess.PIPE), job, output))
    results: list[list[dict]] = []
    failures = []
    try:
        for process, job, output in processes:
            _, error = process.communicate()
            if process.returncode != 0:
                failures.append((error.decode("utf-8", "replace").strip().splitlines() or ["(no message)"])[-1])
            else:
                results.append(json.loads(output.read_text()))
                output.unlink()
            job.unlink()
    finally:  # interrupted: stop the other workers before their folder is removed
        for process, _, _ in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    if failures:
        raise RuntimeError(f"SynthFace worker failed: {failures[0]}")
    records: list[dict] = [{}] * len(tasks)
    for k, chunk in enumerate(results):
        records[k::workers] = chunk
    return records


def generate_synthface(
    root: str | os.PathLike, config: SynthFaceConfig | None = None, workers: int | None = None, overwrite: bool = False
) -> Path:
    """Generate a SynthFace benchmark into ``root`` (see the module docstring for the layout).

    The files are written into a temporary sibling folder that is renamed to ``root`` once complete, so an
    interrupted run never leaves a folder that looks complete.

    Args:
        root: the folder to create.
        config: what to generate (default: ``SynthFaceConfig()``).
        workers: processes to render with (default: one per available core); the output does not depend on it.
        overwrite: replace an existing ``root`` (otherwise an existing ``root`` is an error).

    Returns:
        ``root``.

    Raises:
        FileExistsError: ``root`` exists and ``overwrite`` is False.
    """
    config = config or SynthFaceConfig()
    root = Path(root)
    if root.exists() and not overwrite:
        raise FileExistsError(f"{root} already exists (pass overwrite=True to replace it)")
    root.parent.mkdir(parents=True, exist_ok=True)
    partial = root.parent / f".{root.name}.partial-{uuid.uuid4().hex[:12]}"
    try:
        sizes = {split: config.split(split).size for split in SPLITS}
        tasks = [(split, index) for split in SPLITS for index in range(sizes[split])]
        for split in SPLITS:
            (partial / split).mkdir(parents=True)
        workers = max(1, min(workers or usable_cpus(), len(tasks)))
        if workers == 1:
            records = write_images(config, partial, tasks)
        else:
            records = _run_workers(config, partial, tasks, workers)
        digest = config.config_hash()
        for split in SPLITS:
            images = [record for (name, _), record in zip(tasks, records, strict=True) if name == split]
            meta = {"split": split, "config_hash": digest, "images": images}
            (partial / split / "meta.json").write_text(json.dumps(meta, separators=(",", ":")), encoding="utf-8")
        description = {"config": config.to_dict(), "config_hash": digest, "sizes": sizes}
        (partial / "config.json").write_text(json.dumps(description, indent=2, sort_keys=True), encoding="utf-8")
        if root.exists():
            stale = root.parent / f".{root.name}.stale-{uuid.uuid4().hex[:12]}"
            root.rename(stale)
            shutil.rmtree(stale)
        partial.rename(root)
    finally:
        if partial.exists():
            shutil.rmtree(partial)
    return root


def _repo_root() -> Path:
    """The source checkout holding the ffld package, or the current directory when ffld is installed."""
    checkout = Path(__file__).resolve().parents[3]
    return checkout if (checkout / "pyproject.toml").exists() else Path.cwd()


def cache_root(config: SynthFaceConfig | None = None, cache_dir: str | os.PathLike = DEFAULT_CACHE) -> Path:
    """Where :func:`ensure_synthface` keeps ``config``: ``cache_dir/<config hash>``; a relative ``cache_dir`` is
    resolved against the repository root (the folder holding the ``ffld`` package and ``pyproject.toml``), or
    against the current directory when ffld is installed as a package."""
    config = config or SynthFaceConfig()
    base = Path(cache_dir)
    if not base.is_absolute():
        base = _repo_root() / base
    return base / config.config_hash()


def ensure_synthface(
    config: SynthFaceConfig | None = None, cache_dir: str | os.PathLike = DEFAULT_CACHE, workers: int | None = None
) -> Path:
    """The root of the cached benchmark for ``config`` (default: ``SynthFaceConfig()``), generated if missing.

    See :func:`cache_root` for where it lives. Concurrent callers may both generate it; the first to finish wins
    and the other's copy is discarded.
    """
    config = config or SynthFaceConfig()
    root = cache_root(config, cache_dir)
    if (root / "config.json").exists():
        return root
    try:
        return generate_synthface(root, config, workers)
    except OSError:  # another process finished first (the rename found the folder there)
        if (root / "config.json").exists():
            return root
        raise


__all__ = [
    "DEFAULT_CACHE",
    "SPLIT_CODES",
    "Sample",
    "cache_root",
    "ensure_synthface",
    "generate_synthface",
    "render_sample",
    "write_images",
]
