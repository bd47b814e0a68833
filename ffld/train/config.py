"""Training configuration: the paper's recipe (Sect. 4, 6.6) as a readable YAML file.

A config file has the sections below; every key is optional and defaults to the paper's choice where the paper makes
one (except ``augment.flip``: ffld flips half the faces, the paper does not flip). Unknown sections or keys, and
values of the wrong type (a string where a number or ``true``/``false`` is due), are refused with the file and key
named; number-like strings (``"5e-4"``) are read as numbers. The built-in configs live in ``ffld/configs/`` and can
be named without their path or extension (``ffld train synthface-cpu``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ffld.train.bounds import range_problems

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
STAGE_LOSSES = ("iod_l2", "l2", "l1", "align", "wing")
PAPER_LOSSES = ("iod_l2", "l2", "l1", "align")
"""The paper's assignment for S0..S3 (Sect. 4, 6.6): IOD-normalised L2, then L2, L1 and Align Loss."""


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the file and the key."""


@dataclass
class DataConfig:
    """What to train and test on.

    Attributes:
        dataset: "synthface", "300w", "aflw", "cofw", "wflw" or "300vw" (see :mod:`ffld.data.registry`).
        root: the dataset's folder (SynthFace: the cache folder; generated there when missing).
        train: training split; test: splits evaluated every ``runtime.eval_every`` epochs and after the last.
        input_size: side of the square model input (224 in the paper).
        enlarge: the face crop is this factor times the larger side of the face box.
        box: "landmarks" (ground-truth landmark box) or "dataset" (the dataset's face box) for the crop.
        balance: "none" or "pdb" (pose-based data balancing, Feng et al. 2018; the paper's choice on AFLW).
        train_every: keep every k-th training face (e.g. to thin 300VW's consecutive video frames).
        convert: let the readers convert grayscale, 16-bit and 4-channel images to RGB (COFW holds grayscale
            images); otherwise such an image stops the run with an error naming it.
        synthface: SynthFace generator settings (fields of ``SynthFaceConfig``), for dataset "synthface".
    """

    dataset: str = "synthface"
    root: str | None = None
    train: str = "train"
    test: list[str] = field(default_factory=lambda: ["common", "challenge"])
    input_size: int = 224
    enlarge: float = 1.25
    box: str = "landmarks"
    balance: str = "none"
    train_every: int = 1
    convert: bool = False
    synthface: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelConfig:
    """Arguments of :class:`ffld.models.FFLD` (besides the landmark count, which the dataset gives)."""

    backbone: str = "resnet18"
    width: float = 0.25
    stages: int = 3
    patch_size: int = 8
    grad_low_level: bool = True
    grad_crop_location: bool = True


@dataclass
class AlignConfig:
    """Align Loss (Sect. 4.3, 6.6): Gaussian filter of size ``kernel_size`` and σ ``sigma``, dropped once the loss
    has not decreased for ``patience`` epochs (``patience: null`` keeps it)."""

    sigma: float = 1.0
    kernel_size: int = 3
    patience: int | None = 5


@dataclass
class OptimConfig:
    """Adam with weight decay 5e-4, batch 64 (Sect. 6.6); the learning rate is multiplied by ``lr_gamma`` every
    ``lr_step`` epochs (the paper's 3-stage schedule: 5e-4, ×0.3 every 80 epochs, 400 epochs)."""

    lr: float = 5e-4
    weight_decay: float = 5e-4
    batch_size: int = 64
    epochs: int = 400
    lr_step: int = 80
    lr_gamma: float = 0.3


@dataclass
class AugmentConfig:
    """±20% scale, ±10% translation, ±20° rotation (Sect. 6.6) and a horizontal flip with probability ``flip``
    (not in the paper's list: ffld's addition, common in landmark training; 0 gives the paper's augmentation)."""

    scale: float = 0.2
    translate: float = 0.1
    rotate: float = 20.0
    flip: float = 0.5


@dataclass
class RuntimeConfig:
    """Where and how to run.

    Attributes:
        device: "auto" (CUDA when available), "cpu" or "cuda".
        bf16: bf16 autocast; "auto" enables it on CUDA only.
        channels_last: channels-last memory format; "auto" enables it on CUDA only.
        compile: wrap the model in ``torch.compile``.
        sync_batchnorm: synchronise BatchNorm statistics across processes (several GPUs).
        seed: seeds the model initialisation, the data order and the augmentation.
        workers: processes decoding images while the dataset is prepared.
        checkpoint_every: also checkpoint every this many steps within an epoch (0: at epoch ends only).
        eval_every: evaluate on the test splits every this many epochs (and after the last one).

    ``seed`` and ``sync_batchnorm`` decide what a run computes; the others say where and how fast it runs (bf16
    rounds differently, no more), so they may change when it resumes (:data:`RESUMABLE`).
    """

    device: str = "auto"
    bf16: Literal["auto"] | bool = "auto"
    channels_last: Literal["auto"] | bool = "auto"
    compile: bool = False
    sync_batchnorm: bool = False
    seed: int = 0
    workers: int = 0
    checkpoint_every: int = 0
    eval_every: int = 1


@dataclass
class TrainConfig:
    """A whole training run.

    Attributes:
        losses: one loss per prediction, S0 first: the paper's ``[iod_l2, l2, l1, align]`` (Sect. 4); any of
            ``STAGE_LOSSES`` per stage for the Table 5 ablation. Its length must be ``model.stages + 1``.
        loss_weights: the weight of each stage's loss in the sum (same length as ``losses``).
        init: a checkpoint whose weights start the run (e.g. the pre-trained baseline, Sect. 6.6); the keys it
            lacks (the CropNets of a baseline) keep their initialisation.
        output: the run folder (checkpoints, CSV and TensorBoard logs).
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    losses: list[str] = field(default_factory=lambda: list(PAPER_LOSSES))
    loss_weights: list[float] | None = None
    align: AlignConfig = field(default_factory=AlignConfig)
    optimizer: OptimConfig = field(default_factory=OptimConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    init: str | None = None
    output: str = "runs/ffld"

    def weights(self) -> list[float]:
        """The loss weights, 1 for each stage when unset."""
        return list(self.loss_weights) if self.loss_weights is not None else [1.0] * len(self.losses)

    def check(self, source: str) -> None:
        """Refuse inconsistent settings and values out of range (:mod:`ffld.train.bounds`); ``source`` names the
        file in the message."""
        problems = []
        if len(self.losses) != self.model.stages + 1:
            problems.append(f"losses: {len(self.losses)} given for {self.model.stages + 1} predictions (S0..SK)")
        problems += [f"losses: unknown loss {name!r}" for name in self.losses if name not in STAGE_LOSSES]
        if "align" in self.losses[:1]:
            problems.append("losses: Align Loss needs a refinement stage's feature level, not S0")
        if self.loss_weights is not None and len(self.loss_weights) != len(self.losses):
            problems.append("loss_weights: must have one weight per loss")
        if self.data.box not in ("landmarks", "dataset"):
            problems.append(f"data.box: {self.data.box!r} is not 'landmarks' or 'dataset'")
        if self.data.balance not in ("none", "pdb"):
            problems.append(f"data.balance: {self.data.balance!r} is not 'none' or 'pdb'")
        if self.data.synthface and self.data.dataset != "synthface":
            problems.append("data.synthface: generator settings are only for dataset 'synthface'")
        if self.data.train_every < 1:
            problems.append("data.train_every: must be at least 1")
        if self.runtime.device not in ("auto", "cpu", "cuda"):
            problems.append(f"runtime.device: {self.runtime.device!r} is not 'auto', 'cpu' or 'cuda'")
        if self.optimizer.batch_size < 1 or self.optimizer.epochs < 1 or self.optimizer.lr_step < 1:
            problems.append("optimizer: batch_size, epochs and lr_step must be positive")
        if self.runtime.eval_every < 1:
            problems.append("runtime.eval_every: must be at least 1")
        if self.runtime.checkpoint_every < 0 or self.runtime.workers < 0:
            problems.append("runtime: checkpoint_every and workers must not be negative")
        problems += range_problems(self)
        if problems:
            raise ConfigError(f"{source}: " + "; ".join(problems))


RESUMABLE = (
    "optimizer.epochs",
    "output",
    "init",
    "data.root",
    "runtime.device",
    "runtime.bf16",
    "runtime.channels_last",
    "runtime.compile",
    "runtime.workers",
    "runtime.checkpoint_every",
    "runtime.eval_every",
)
"""The keys that may differ between a run and its resumption: how long, where and how fast it runs, where its
data now lie, and ``init`` (read only when a run starts; a resumed run takes its weights from ``last.pt``)."""

_NO_MATCH = object()  # a value that does not fit a field's type
_ABSENT = object()  # a key that one of two configs lacks


def _float(value: Any) -> Any:
    """A finite number (an int, or a number-like string such as ``"5e-4"``, which YAML reads as a string) as a
    float, else ``_NO_MATCH``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return _NO_MATCH
    try:
        number = float(value)
    except ValueError:
        return _NO_MATCH
    return number if math.isfinite(number) else _NO_MATCH


def _convert(value: Any, annotation: Any) -> Any:
    """``value`` as a field annotated ``annotation`` holds it, or ``_NO_MATCH``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        converted = (_convert(value, option) for option in args)
        return next((item for item in converted if item is not _NO_MATCH), _NO_MATCH)
    if origin is Literal:
        return value if any(type(value) is type(a) and value == a for a in args) else _NO_MATCH
    if origin is list:
        items = [_convert(item, args[0]) for item in value] if isinstance(value, list) else [_NO_MATCH]
        return _NO_MATCH if any(item is _NO_MATCH for item in items) else items
    if origin is dict:
        return value if isinstance(value, dict) and all(isinstance(key, str) for key in value) else _NO_MATCH
    if annotation is float:
        return _float(value)
    if annotation is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _NO_MATCH
    if annotation in (bool, str, type(None)):
        return value if type(value) is annotation else _NO_MATCH
    raise TypeError(f"config fields of type {annotation} are not supported")


def _describe(annotation: Any) -> str:
    """What ``annotation`` asks for, in a config file's words."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType, Literal):
        return " or ".join(repr(a) if origin is Literal else _describe(a) for a in args)
    if origin is list:
        return f"[{_describe(args[0])}, ...]"
    words = {float: "a number", int: "an integer", bool: "true/false", str: "a string", dict: "a mapping"}
    words[type(None)] = "null"
    return words[origin or annotation]


def _build(cls: type, values: Any, where: str, source: str) -> Any:
    """Instantiate dataclass ``cls`` from a mapping, recursing into dataclass-typed fields and checking every
    other value against its field's type annotation."""
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: {where or 'the file'} must be a mapping, got {type(values).__name__}")
    annotations = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(annotations))
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(f"{source}: unknown key(s) {', '.join(prefix + k for k in unknown)}")
    kwargs = {}
    for name, value in values.items():
        key, annotation = f"{where}.{name}" if where else name, annotations[name]
        if dataclasses.is_dataclass(annotation):
            kwargs[name] = _build(annotation, value, key, source)
            continue
        kwargs[name] = _convert(value, annotation)
        if kwargs[name] is _NO_MATCH:
            raise ConfigError(f"{source}: {key}: expected {_describe(annotation)}, got {value!r}")
    return cls(**kwargs)


def _set(values: Any, dotted: str, value: Any, source: str) -> None:
    """Set the value of a dotted key (``"optimizer.epochs"``), creating missing or empty sections (``align:``)."""
    *parents, key = dotted.split(".")
    node = values
    for depth in range(len(parents) + 1):
        if not isinstance(node, dict):
            where = ".".join(parents[:depth]) or "the file"
            raise ConfigError(f"{source}: {where} must be a mapping to set {dotted}, got {type(node).__name__}")
        if depth < len(parents):
            if node.get(parents[depth]) is None:
                node[parents[depth]] = {}
            node = node[parents[depth]]
    node[key] = value


PATH_KEYS = (("data", "root"), ("", "init"), ("", "output"))
"""(section, key) of the config's paths, where a leading ``~`` is expanded."""


def resolve_config_path(name: str | os.PathLike) -> Path:
    """A config file path, or the built-in config of that name (``ffld/configs/<name>.yaml``)."""
    path = Path(name)
    if path.is_file():  # a folder named like a built-in config (e.g. ./300w holding the data) does not hide it
        return path
    builtin = CONFIG_DIR / f"{name}.yaml"
    if builtin.exists():
        return builtin
    available = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise ConfigError(f"{name}: no such config file or built-in config (built-in: {available})")


def load_config(name: str | os.PathLike, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read and check a YAML config.

    Args:
        name: a file, or the name of a built-in config.
        overrides: dotted keys replacing values of the file, e.g. ``{"optimizer.epochs": 2}``.

    Raises:
        ConfigError: naming the file, for unreadable YAML, unknown keys, values of the wrong type or inconsistent
            settings.
    """
    path = resolve_config_path(name)
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read the config ({error})") from error
    if not isinstance(values, dict):  # e.g. a list, or a text file that YAML reads as one string
        raise ConfigError(
            f"{path}: a config must be a mapping of sections (data:, model:, ...), got a {type(values).__name__}"
        )
    for dotted, value in (overrides or {}).items():
        _set(values, dotted, value, str(path))
    for section, key in PATH_KEYS:
        node = values.get(section) if section else values
        if isinstance(node, dict) and isinstance(node.get(key), str):
            node[key] = os.path.expanduser(node[key])  # "~/300W" given through --set reaches no shell
    source = f"{path} with {', '.join(overrides)} overridden" if overrides else str(path)  # a value may be either's
    config = _build(TrainConfig, values, "", source)
    config.check(source)
    return config


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """The config as plain data (for checkpoints and result files)."""
    return dataclasses.asdict(config)


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``."""
    flat = {}
    for name, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def resume_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between the config a run was started with and the one it is resumed with
    (:func:`config_to_dict` forms), except the :data:`RESUMABLE` keys: one ``"key: saved → current"`` per key."""
    before, after = _flatten(saved), _flatten(current)
    keys = sorted((before.keys() | after.keys()) - set(RESUMABLE))
    differing = [key for key in keys if before.get(key, _ABSENT) != after.get(key, _ABSENT)]
    return [f"{key}: {_shown(before, key)} → {_shown(after, key)}" for key in differing]


def _shown(flat: dict[str, Any], key: str) -> str:
    return repr(flat[key]) if key in flat else "(absent)"


__all__ = [
    "CONFIG_DIR",
    "RESUMABLE",
    "STAGE_LOSSES",
    "AlignConfig",
    "AugmentConfig",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "OptimConfig",
    "RuntimeConfig",
    "TrainConfig",
    "config_to_dict",
    "load_config",
    "resolve_config_path",
    "resume_differences",
]
