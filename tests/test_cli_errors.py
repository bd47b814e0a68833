"""The ``ffld`` command ends on bad input (a foreign checkpoint, a device it cannot use, a missing optional package,
a failed experiment run) with one line on stderr naming the file or run, and exit status 1; a bug keeps its
traceback."""

from __future__ import annotations

import sys

import pytest
import torch
import yaml

import ffld.checkpoint
from ffld.bench import DLIB_INSTALL
from ffld.cli import main

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")


def error_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one line ``ffld`` writes on stderr for a command that fails on its input (exit status 1)."""
    assert main(list(argv)) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    ("content", "reason"),
    [({"state_dict": {}}, "no 'metadata' entry"), ([1, 2], "it holds a list, not a dict")],
    ids=["dict-without-metadata", "list"],
)
def test_export_of_a_foreign_checkpoint(tmp_path, capsys, content, reason):
    path = tmp_path / "foreign.pt"
    torch.save(content, path)
    line = error_line(capsys, "export", str(path), "--onnx", str(tmp_path / "model.onnx"))
    assert line == f"ffld export: error: {path}: not an ffld training checkpoint ({reason})"


def test_train_refuses_a_foreign_last_pt(tmp_path, capsys):
    last = tmp_path / "run" / "last.pt"
    last.parent.mkdir()
    torch.save({"state_dict": {}}, last)
    line = error_line(capsys, "train", "synthface-cpu", "--output", str(last.parent))
    assert line == f"ffld train: error: {last}: not an ffld training checkpoint (no 'metadata' entry)"


@NO_GPU
@pytest.mark.parametrize(
    "argv",
    [
        ["predict", "face.png", "--checkpoint", "model.safetensors", "--device", "cuda"],
        ["evaluate", "model.safetensors", "--dataset", "synthface", "--device", "cuda"],
        ["train", "synthface-cpu", "--set", "runtime.device=cuda"],
    ],
    ids=["predict", "evaluate", "train"],
)
def test_cuda_without_a_gpu(capsys, argv):
    line = error_line(capsys, *argv)
    assert line == f"ffld {argv[0]}: error: device 'cuda': CUDA was asked for, but PyTorch sees no CUDA GPU"


def test_unknown_device(capsys):
    line = error_line(capsys, "predict", "face.png", "--checkpoint", "model.safetensors", "--device", "tpu")
    assert line.startswith("ffld predict: error: device 'tpu': not a device PyTorch knows")


def test_bench_without_dlib_fails_before_timing_anything(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # `import dlib` now raises ModuleNotFoundError
    argv = ["bench", "--dlib", "--batch", "1", "--mode", "eager", "--precision", "fp32", "--train-batch", "2"]
    line = error_line(capsys, *argv, "--input-size", "64", "--repeats", "2")
    assert line == f"ffld bench: error: dlib is not installed ({DLIB_INSTALL})"
    assert capsys.readouterr().out == ""  # nothing was timed


def _experiment(folder) -> str:
    """A one-seed experiment file on the CPU configs (the "stages" table); returns its path."""
    spec = {"pretrain": "synthface-cpu-baseline", "finetune": "synthface-cpu", "seeds": [0], "tables": ["stages"]}
    (folder / "tiny.yaml").write_text(yaml.safe_dump(spec))
    return str(folder / "tiny.yaml")


def test_experiment_summary_of_an_untrained_run(tmp_path, capsys):
    experiment = _experiment(tmp_path)
    line = error_line(capsys, "experiment", experiment, "--runs", str(tmp_path / "runs"), "--results", str(tmp_path))
    run = tmp_path / "runs" / "tiny" / "clean" / "seed0" / "baseline"
    command = f"ffld experiment {experiment} --train --runs {tmp_path / 'runs'} --results {tmp_path}"
    assert line == f"ffld experiment: error: {run}: not trained yet (run `{command}`)"  # the folders it was given


def test_experiment_run_that_fails_names_the_run_its_error_and_its_log(tmp_path, capsys):
    experiment = _experiment(tmp_path)
    run = tmp_path / "runs" / "tiny" / "clean" / "seed0" / "pretrain"
    run.mkdir(parents=True)
    torch.save([], run / "last.pt")  # the training subprocess stops at once on it
    line = error_line(
        capsys, "experiment", experiment, "--train", "--runs", str(tmp_path / "runs"), "--results", str(tmp_path)
    )
    assert line == (
        f"ffld experiment: error: {run}: training failed (exit status 1: ffld train: error: {run / 'last.pt'}: "
        f"not an ffld training checkpoint (it holds a list, not a dict)); see {run / 'train.log'}"
    )


def test_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug deep inside torch")

    monkeypatch.setattr(ffld.checkpoint, "load_model", broken)
    with pytest.raises(RuntimeError, match="a bug deep inside torch"):
        main(["export", str(tmp_path / "model.safetensors"), "--onnx", str(tmp_path / "model.onnx")])
