"""Configuration of a SynthFace benchmark: seed, image size, split sizes and what varies in each split.

The splits mirror 300W (Sagonas et al., 2013; split of Ren et al., 2014): a training set, a "common" test set of
moderate poses without occlusion (LFPW and HELEN test images in 300W) and a "challenge" test set of large poses,
occlusion, blur and low resolution (IBUG). The default sizes are 300W's: 3148 / 554 / 135 images.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

# Bump whenever the rendering changes, so that caches made by an older generator are not reused.
GENERATOR_VERSION = 2

SPLITS = ("train", "common", "challenge")


@dataclass(frozen=True)
class SplitConfig:
    """What one split holds.

    Attributes:
        size: number of images.
        yaw: range of ``|yaw|`` in degrees, sampled uniformly; the sign is random. Yaw > 0 turns the nose
            towards the image's right.
        pitch: ``|pitch|`` is uniform in ``[0, pitch]`` degrees, random sign; pitch > 0 turns the nose up.
        roll: ``|roll|`` is uniform in ``[0, roll]`` degrees, random sign; roll > 0 turns the face clockwise.
        occluder_prob: probability that an image has occluders (hands, bars, objects, sunglasses, as in COFW).
        blur_prob: probability of Gaussian or motion blur.
        noise_prob: probability of sensor noise.
        jpeg_prob: probability that the image is stored as a low-quality JPEG (otherwise a PNG).
        lowres_prob: probability that the image is stored downscaled 2-4 times.
    """

    size: int
    yaw: tuple[float, float] = (0.0, 60.0)
    pitch: float = 25.0
    roll: float = 30.0
    occluder_prob: float = 0.0
    blur_prob: float = 0.0
    noise_prob: float = 0.0
    jpeg_prob: float = 0.0
    lowres_prob: float = 0.0

    def __post_init__(self) -> None:
        # Store numbers in one canonical type so that equal configs hash equally ((0, 60) == (0.0, 60.0)).
        object.__setattr__(self, "size", int(self.size))
        object.__setattr__(self, "yaw", (float(self.yaw[0]), float(self.yaw[1])))
        for name in ("pitch", "roll", "occluder_prob", "blur_prob", "noise_prob", "jpeg_prob", "lowres_prob"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.size < 0:
            raise ValueError(f"size must be >= 0, got {self.size}")
        low, high = self.yaw
        if not 0.0 <= low <= high <= 75.0:
            raise ValueError(f"yaw must be a range (low, high) with 0 <= low <= high <= 75 degrees, got {self.yaw}")
        if not 0.0 <= self.pitch <= 40.0 or not 0.0 <= self.roll <= 60.0:
            raise ValueError(f"pitch must be in [0, 40] and roll in [0, 60] degrees, got {self.pitch}, {self.roll}")
        for name in ("occluder_prob", "blur_prob", "noise_prob", "jpeg_prob", "lowres_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability, got {getattr(self, name)}")


def _default_train() -> SplitConfig:
    return SplitConfig(3148, (0.0, 60.0), 25.0, 30.0, occluder_prob=0.25, blur_prob=0.2, noise_prob=0.25,
                       jpeg_prob=0.25, lowres_prob=0.1)  # fmt: skip


def _default_common() -> SplitConfig:
    return SplitConfig(554, (0.0, 30.0), 15.0, 15.0, blur_prob=0.1, noise_prob=0.15, jpeg_prob=0.15)


def _default_challenge() -> SplitConfig:
    return SplitConfig(135, (20.0, 60.0), 30.0, 40.0, occluder_prob=0.5, blur_prob=0.4, noise_prob=0.4,
                       jpeg_prob=0.4, lowres_prob=0.35)  # fmt: skip


@dataclass(frozen=True)
class SynthFaceConfig:
    """A SynthFace benchmark; two equal configs generate byte-identical datasets.

    Attributes:
        seed: seeds every image: image ``i`` of a split is drawn from ``numpy.random.default_rng((seed, split, i))``.
        image_size: side of the square rendered images, in pixels. The face (its frontal width) covers
            ``face_scale`` of it, so a 224×224 crop around the face is sharp.
        face_scale: range of the frontal face width as a fraction of ``image_size``.
        noise_along: standard deviation, in pixels of the stored image, of annotation noise along the local
            boundary direction; the ``.pts`` files hold the noisy landmarks, the metadata the clean ones. It is
            generated for every split, but :func:`ffld.data.registry.open_split` (training, ``ffld evaluate``)
            opens only the training split with it.
        noise_across: the same, across (normal to) the boundary.
        train, common, challenge: the splits.
    """

    seed: int = 0
    image_size: int = 256
    face_scale: tuple[float, float] = (0.55, 0.70)
    noise_along: float = 0.0
    noise_across: float = 0.0
    train: SplitConfig = field(default_factory=_default_train)
    common: SplitConfig = field(default_factory=_default_common)
    challenge: SplitConfig = field(default_factory=_default_challenge)

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "image_size", int(self.image_size))
        object.__setattr__(self, "face_scale", (float(self.face_scale[0]), float(self.face_scale[1])))
        object.__setattr__(self, "noise_along", float(self.noise_along))
        object.__setattr__(self, "noise_across", float(self.noise_across))
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0 (numpy's SeedSequence takes no negative entropy), got {self.seed}")
        if self.image_size < 64:
            raise ValueError(f"image_size must be >= 64, got {self.image_size}")
        low, high = self.face_scale
        if not 0.2 <= low <= high <= 0.75:
            raise ValueError(f"face_scale must be a range within [0.2, 0.75], got {self.face_scale}")
        if self.noise_along < 0 or self.noise_across < 0:
            raise ValueError("noise_along and noise_across must be >= 0")

    def split(self, name: str) -> SplitConfig:
        """The configuration of split ``name`` ("train", "common" or "challenge")."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLITS}")
        return getattr(self, name)

    def with_sizes(self, train: int, common: int, challenge: int) -> SynthFaceConfig:
        """A copy with other split sizes (everything else unchanged)."""
        return dataclasses.replace(
            self,
            train=dataclasses.replace(self.train, size=train),
            common=dataclasses.replace(self.common, size=common),
            challenge=dataclasses.replace(self.challenge, size=challenge),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (what ``config.json`` holds, with the generator version)."""
        return {"generator_version": GENERATOR_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthFaceConfig:
        """Inverse of :meth:`to_dict` (the generator version is ignored)."""
        data = {key: value for key, value in data.items() if key != "generator_version"}
        for name in SPLITS:
            if name in data:
                split = dict(data[name])
                split["yaw"] = tuple(split.get("yaw", (0.0, 60.0)))
                data[name] = SplitConfig(**split)
        if "face_scale" in data:
            data["face_scale"] = tuple(data["face_scale"])
        return cls(**data)

    def config_hash(self) -> str:
        """12 hex digits identifying this config and the generator version (the cache folder's name)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


__all__ = ["GENERATOR_VERSION", "SPLITS", "SplitConfig", "SynthFaceConfig"]
