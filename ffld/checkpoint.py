"""Checkpoints: atomic training state (``torch.save``, loaded with ``weights_only=True``) and inference models
(safetensors with JSON metadata).

A training checkpoint holds only tensors and plain Python data, so it loads with ``weights_only=True``. An
inference model file (``.safetensors``) holds the weights and, in its metadata, the model's arguments and the
input convention (input size, crop enlargement, landmark layout), so :func:`load_model` rebuilds it alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from ffld.files import write_atomically
from ffld.models import FFLD


class CheckpointError(ValueError):
    """A checkpoint that cannot be read; the message names the file."""


def save_state(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write a training state atomically (``torch.save``)."""
    write_atomically(path, lambda handle: torch.save(state, handle))


def _load_failure(error: Exception) -> str:
    """One line on why ``torch.load`` failed: for a file ``weights_only=True`` refused, the unpickler's complaint
    (torch's message around it is several paragraphs of advice)."""
    _, refused, complaint = str(error).partition("WeightsUnpickler error:")
    first_sentence = complaint.strip().split("\n\n")[0].split(". ")[0]  # e.g. "Unsupported global: GLOBAL m.C ..."
    text = f"refused by weights_only=True: {first_sentence}" if refused else f"{type(error).__name__}: {error}"
    return " ".join(text.split())


def _require(path: str | os.PathLike, value: Any, keys: tuple[str, ...], what: str) -> dict[str, Any]:
    """``value`` if it is a dict holding every one of ``keys``; else a :class:`CheckpointError` naming ``path``."""
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: not an ffld {what} (it holds a {type(value).__name__}, not a dict)")
    missing = [repr(key) for key in keys if key not in value]
    if missing:
        raise CheckpointError(f"{path}: not an ffld {what} (no {', '.join(missing)} entry)")
    return value


def _describes_model(metadata: Any) -> bool:
    """Whether ``metadata`` is a dict holding the model's arguments: ``model``, a dict with ``num_landmarks``."""
    arguments = metadata.get("model") if isinstance(metadata, dict) else None
    return isinstance(arguments, dict) and "num_landmarks" in arguments


def _model_metadata(path: str | os.PathLike, metadata: Any) -> dict[str, Any]:
    """``metadata`` if it describes a model (see :func:`save_model`); else a :class:`CheckpointError`."""
    if not _describes_model(metadata):
        raise CheckpointError(f"{path}: its ffld metadata has no model arguments ('model' with 'num_landmarks')")
    return metadata


def load_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read a training state with ``weights_only=True`` onto the CPU.

    Raises:
        CheckpointError: the file is missing, unreadable or unsafe, or is not a dict holding ``metadata`` (as
            every state the trainer writes does).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except Exception as error:  # torch raises several types for corrupt or unsafe files
        raise CheckpointError(f"{path}: not a readable ffld checkpoint ({_load_failure(error)})") from error
    return _require(path, state, ("metadata",), "training checkpoint")


def save_model(path: str | os.PathLike, model: FFLD, metadata: dict[str, Any]) -> None:
    """Write an inference model as safetensors, atomically.

    Args:
        path: the ``.safetensors`` file.
        model: the network (its state dict is saved, BatchNorm statistics included).
        metadata: JSON-serialisable data; must hold ``model`` (the :class:`FFLD` keyword arguments, with
            ``num_landmarks``).
    """
    if not _describes_model(metadata):
        raise ValueError("metadata must hold the model's arguments under 'model', including 'num_landmarks'")
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    data = save(tensors, metadata={"ffld": json.dumps(metadata)})  # bytes: save_file would make the file 0600
    write_atomically(path, lambda handle: handle.write(data))


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a model file (``.safetensors``) or of a training checkpoint.

    Raises:
        CheckpointError: the file is missing or unreadable, or its metadata does not describe an ffld model.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        return _model_metadata(path, load_state(path)["metadata"])
    try:
        with safe_open(path, framework="pt") as handle:
            text = _require(path, handle.metadata() or {}, ("ffld",), "model file")["ffld"]
        return _model_metadata(path, json.loads(text))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such model file") from None
    except (SafetensorError, json.JSONDecodeError, OSError) as error:
        raise CheckpointError(f"{path}: not an ffld model file ({error})") from error


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu") -> tuple[FFLD, dict[str, Any]]:
    """Rebuild a model from a ``.safetensors`` model file or a training checkpoint (``.pt``).

    Returns:
        ``(model, metadata)``, the model in eval mode on ``device``.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        metadata, weights = read_metadata(path), load_file(path)
    else:  # one read of the training state for both
        state = load_state(path)
        metadata = _model_metadata(path, state["metadata"])
        weights = _require(path, state, ("model",), "training checkpoint")["model"]
    try:
        model = FFLD(**metadata["model"])
    except TypeError as error:
        raise CheckpointError(f"{path}: its metadata's model arguments do not fit this ffld ({error})") from error
    try:
        model.load_state_dict(weights)
    except (RuntimeError, TypeError) as error:  # TypeError: weights that are not a state dict
        raise CheckpointError(f"{path}: weights do not fit the model its metadata describes ({error})") from error
    return model.to(device).eval(), metadata


def load_weights_from(model: FFLD, weights: dict[str, torch.Tensor], source: str | os.PathLike) -> list[str]:
    """Copy ``weights`` into ``model``; the tensors they lack keep their initialisation (Sect. 6.6: the 3-stage
    model starts from its trained baseline, its CropNets new).

    Returns:
        The model's top-level parts that were newly initialised (e.g. ``refinements.0``), sorted.

    Raises:
        ValueError: naming ``source``, for weights the model does not have or whose shapes do not fit it.
    """
    own = model.state_dict()
    unexpected = [name for name in weights if name not in own]
    if unexpected:
        raise ValueError(f"{source}: weights that this model does not have: {_first(unexpected)}")
    misfits = [
        f"{name} {tuple(tensor.shape)} (this model: {tuple(own[name].shape)})"
        for name, tensor in weights.items()
        if tensor.shape != own[name].shape
    ]
    if misfits:
        raise ValueError(f"{source}: weights whose shapes do not fit this model: {_first(misfits)}")
    missing, _ = model.load_state_dict(weights, strict=False)
    return sorted({".".join(name.split(".")[:2]) for name in missing})


def _first(items: list[str], count: int = 5) -> str:
    """The first ``count`` items, comma-separated, and how many more there are."""
    more = f" and {len(items) - count} more" if len(items) > count else ""
    return ", ".join(items[:count]) + more


__all__ = [
    "CheckpointError",
    "load_model",
    "load_state",
    "load_weights_from",
    "read_metadata",
    "save_model",
    "save_state",
]
