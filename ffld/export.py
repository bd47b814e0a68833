"""ONNX export of a trained model: (B, 3, S, S) images in [0, 1] → the landmarks of every stage."""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ffld.models import FFLD


class StagesOnly(nn.Module):
    """Wraps :class:`FFLD` to return one tensor: (K+1, B, N, 2) landmarks S0..SK in input pixels."""

    def __init__(self, model: FFLD) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.stack(self.model(images).stages)


def export_onnx(model: FFLD, path: str | os.PathLike, metadata: dict[str, Any], opset: int = 18) -> Path:
    """Export ``model`` (eval mode, CPU) to ONNX with a dynamic batch dimension.

    The graph takes ``images`` (B, 3, S, S) float32 in [0, 1] and returns ``landmarks`` (K+1, B, N, 2); the
    crops become ONNX ``GridSample`` nodes (opset ≥ 16). ``metadata`` is the model file's (``S`` is its
    ``input_size``); each of its entries is stored, as JSON, in the ONNX model's ``metadata_props``, so that the
    file says how to crop a face for it (``input_size``, ``enlarge``, ``box``), its landmark layout and how it was
    trained (``provenance``).
    """
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = StagesOnly(model.cpu()).eval()
    size = metadata["input_size"]
    graph = io.BytesIO()
    with warnings.catch_warnings():
        # crop.py's input check compares the points' and features' batch sizes, both the graph's one batch
        # dimension: the tracer keeps it as the constant it is, and warns that it does.
        tensor_to_bool = "Converting a tensor to a Python boolean"
        warnings.filterwarnings("ignore", tensor_to_bool, torch.jit.TracerWarning, "ffld.crop")
        torch.onnx.export(
            wrapper,
            (torch.rand(2, 3, size, size),),
            graph,
            input_names=["images"],
            output_names=["landmarks"],
            dynamic_axes={"images": {0: "batch"}, "landmarks": {1: "batch"}},
            opset_version=opset,
            dynamo=False,
        )
    exported = onnx.load_from_string(graph.getvalue())
    onnx.helper.set_model_props(exported, {key: json.dumps(value) for key, value in metadata.items()})
    onnx.save(exported, str(path))
    return path


__all__ = ["StagesOnly", "export_onnx"]
