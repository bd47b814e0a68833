"""Checkpoints: model files round-trip, training states load with weights_only=True, bad or foreign files are named
in a one-line error."""

import os
import re

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from ffld.checkpoint import (
    CheckpointError,
    load_model,
    load_state,
    load_weights_from,
    read_metadata,
    save_model,
    save_state,
)
from ffld.models import FFLD

METADATA = {"model": {"num_landmarks": 5, "stages": 2}, "input_size": 64, "enlarge": 1.25, "box": "landmarks"}


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
    save_model(tmp_path / "m.safetensors", model, METADATA)
    loaded, loaded_metadata = load_model(tmp_path / "m.safetensors")
    assert loaded_metadata == METADATA == read_metadata(tmp_path / "m.safetensors")
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(model(images).stages, loaded(images).stages, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary file left


def test_files_get_the_umask_permissions_and_failed_writes_leave_nothing(tmp_path):
    """A model file is as readable as any new file (safetensors' own save_file makes it 0600)."""
    previous = os.umask(0o022)
    try:
        save_model(tmp_path / "m.safetensors", _trained_looking_model(), METADATA)
        save_state(tmp_path / "last.pt", {"epoch": 1})
    finally:
        os.umask(previous)
    assert {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {"m.safetensors": 0o644, "last.pt": 0o644}
    with pytest.raises(AttributeError):  # a local function cannot be pickled
        save_state(tmp_path / "broken.pt", {"hook": lambda: None})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "m.safetensors"]


def test_training_state_loads_with_weights_only(tmp_path):
    model = _trained_looking_model()
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.rand(2, 3, 64, 64)).stages[-1].sum().backward()
    optimizer.step()
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": 3,
        "history": [{"a": 1.0}],
        "metadata": METADATA,
    }
    save_state(tmp_path / "last.pt", state)
    loaded = load_state(tmp_path / "last.pt")
    assert loaded["epoch"] == 3 and loaded["history"] == [{"a": 1.0}]
    torch.testing.assert_close(loaded["optimizer"]["state"][0]["exp_avg"], state["optimizer"]["state"][0]["exp_avg"])
    rebuilt, metadata = load_model(tmp_path / "last.pt")
    assert metadata == METADATA
    torch.testing.assert_close(rebuilt.state_dict(), model.state_dict(), rtol=0, atol=0)


def test_unsafe_or_corrupt_checkpoints_are_refused_by_name(tmp_path):
    torch.save({"object": Payload()}, tmp_path / "unsafe.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "corrupt.safetensors").write_bytes(b"\x00" * 20)
    for name in ("unsafe.pt", "corrupt.pt", "missing.pt"):
        with pytest.raises(CheckpointError, match=re.escape(name)) as error:
            load_state(tmp_path / name)
        assert "\n" not in str(error.value)  # torch's several paragraphs of advice are left out
    with pytest.raises(CheckpointError, match=r"refused by weights_only=True: Unsupported global: .*Payload"):
        load_state(tmp_path / "unsafe.pt")
    with pytest.raises(CheckpointError, match=re.escape("corrupt.safetensors")):
        load_model(tmp_path / "corrupt.safetensors")


def _foreign_files(folder) -> dict[str, str]:
    """Files that torch or safetensors read but that ffld did not write -> what the error must say."""
    weights = FFLD(5, stages=2).state_dict()
    torch.save({"state_dict": weights}, folder / "no_metadata.pt")
    torch.save([weights], folder / "list.pt")
    torch.save({"metadata": {"epochs": 3}, "model": weights}, folder / "no_model_arguments.pt")
    torch.save({"metadata": METADATA, "state_dict": weights}, folder / "no_weights.pt")
    torch.save({"metadata": METADATA, "model": [1, 2]}, folder / "weights_not_a_dict.pt")
    unknown_argument = {**METADATA, "model": {"num_landmarks": 5, "depth": 3}}
    torch.save({"metadata": unknown_argument, "model": weights}, folder / "unknown_argument.pt")
    save_file({"w": torch.zeros(2)}, folder / "no_ffld_metadata.safetensors")
    save_file({"w": torch.zeros(2)}, folder / "metadata_list.safetensors", metadata={"ffld": "[1, 2]"})
    return {
        "no_metadata.pt": "no 'metadata' entry",
        "list.pt": "it holds a list, not a dict",
        "no_model_arguments.pt": "no model arguments",
        "no_weights.pt": "no 'model' entry",
        "weights_not_a_dict.pt": "weights do not fit",
        "unknown_argument.pt": "model arguments do not fit",
        "no_ffld_metadata.safetensors": "no 'ffld' entry",
        "metadata_list.safetensors": "no model arguments",
    }


def test_foreign_checkpoints_are_refused_by_name_and_reason(tmp_path):
    for name, reason in _foreign_files(tmp_path).items():
        with pytest.raises(CheckpointError, match=f"{re.escape(name)}: .*{re.escape(reason)}"):
            load_model(tmp_path / name)
    with pytest.raises(CheckpointError, match=re.escape("list.pt: not an ffld training checkpoint")):
        load_state(tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match=re.escape("no_metadata.pt: not an ffld training checkpoint")):
        read_metadata(tmp_path / "no_metadata.pt")
    assert read_metadata(tmp_path / "no_weights.pt") == METADATA  # the weights are only needed to rebuild a model


def test_load_weights_from_a_baseline_names_the_new_parts_and_refuses_foreign_weights():
    """Sect. 6.6: the 3-stage model starts from its trained baseline; only its refinement stages are new."""
    torch.manual_seed(0)
    baseline = FFLD(5, stages=0)
    refined = FFLD(5, stages=3)
    new_parts = load_weights_from(refined, baseline.state_dict(), "base.safetensors")
    assert new_parts == ["refinements.0", "refinements.1", "refinements.2"]
    for name, tensor in baseline.state_dict().items():
        assert torch.equal(refined.state_dict()[name], tensor), name
    assert load_weights_from(FFLD(5, stages=3), refined.state_dict(), "full.pt") == []
    with pytest.raises(ValueError, match=r"^big\.pt: weights that this model does not have: refinements\.2\."):
        load_weights_from(FFLD(5, stages=2), refined.state_dict(), "big.pt")
    with pytest.raises(ValueError, match=r"^wide\.pt: weights whose shapes do not fit this model: head\.weight"):
        load_weights_from(FFLD(5, stages=0), FFLD(7, stages=0).state_dict(), "wide.pt")
