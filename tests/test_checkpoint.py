"""Checkpoints: model files round-trip, training states load with weights_only=True, bad files are named."""

import re

import pytest
import torch
from torch import nn

from ffld.checkpoint import CheckpointError, load_model, load_state, read_metadata, save_model, save_state
from ffld.models import FFLD


class Payload:
    """An arbitrary class: unpickling it needs code, which weights_only=True refuses to run."""


def _trained_looking_model() -> FFLD:
    torch.manual_seed(0)
    model = FFLD(5, stages=2)
    for refinement in model.refinements:
        nn.init.normal_(refinement.cropnet.fc.weight, std=0.01)
    model.train()(torch.rand(4, 3, 64, 64))  # move the BatchNorm statistics away from their defaults
    return model.eval()


def test_model_file_round_trip(tmp_path):
    model = _trained_looking_model()
    metadata = {"model": {"num_landmarks": 5, "stages": 2}, "input_size": 64, "enlarge": 1.25, "box": "landmarks"}
    save_model(tmp_path / "m.safetensors", model, metadata)
    loaded, loaded_metadata = load_model(tmp_path / "m.safetensors")
    assert loaded_metadata == metadata == read_metadata(tmp_path / "m.safetensors")
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(model(images).stages, loaded(images).stages, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary file left


def test_training_state_loads_with_weights_only(tmp_path):
    model = _trained_looking_model()
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.rand(2, 3, 64, 64)).stages[-1].sum().backward()
    optimizer.step()
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3, "history": [{"a": 1.0}]}
    save_state(tmp_path / "last.pt", state)
    loaded = load_state(tmp_path / "last.pt")
    assert loaded["epoch"] == 3 and loaded["history"] == [{"a": 1.0}]
    torch.testing.assert_close(loaded["optimizer"]["state"][0]["exp_avg"], state["optimizer"]["state"][0]["exp_avg"])


def test_unsafe_or_corrupt_checkpoints_are_refused_by_name(tmp_path):
    torch.save({"object": Payload()}, tmp_path / "unsafe.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "corrupt.safetensors").write_bytes(b"\x00" * 20)
    for name in ("unsafe.pt", "corrupt.pt", "missing.pt"):
        with pytest.raises(CheckpointError, match=re.escape(name)):
            load_state(tmp_path / name)
    with pytest.raises(CheckpointError, match=re.escape("corrupt.safetensors")):
        load_model(tmp_path / "corrupt.safetensors")
