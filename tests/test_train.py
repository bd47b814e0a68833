"""The training engine on a small SynthFace: learning, kill-and-resume, NaN stop, 2-process DDP, the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from ffld.checkpoint import load_model, load_state
from ffld.multiloss import small_config
from ffld.train import TrainingDiverged, load_config, train
from ffld.train.engine import Trainer

REPOSITORY = Path(__file__).resolve().parent.parent
SMALL_SYNTHFACE = {"image_size": 96, "train": {"size": 64}, "common": {"size": 16}, "challenge": {"size": 8}}


def write_config(folder: Path, name: str = "run", **changes) -> Path:
    """A tiny 3-stage SynthFace run (64×64 input); ``changes`` are dotted keys."""
    config = {
        "data": {"dataset": "synthface", "root": str(folder / "synthface"), "input_size": 64,
                 "test": ["common"], "synthface": SMALL_SYNTHFACE},
        "model": {"stages": 3},
        "optimizer": {"batch_size": 16, "epochs": 3, "lr": 1e-3, "lr_step": 2},
        "runtime": {"device": "cpu", "checkpoint_every": 1, "eval_every": 2},
        "output": str(folder / name),
    }  # fmt: skip
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = config
        for parent in parents:
            node = node.setdefault(parent, {})
        node[key] = value
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_cli(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY), "OMP_NUM_THREADS": "1", **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "ffld", *args], cwd=REPOSITORY, env=environment, capture_output=True, text=True
    )
    if check and result.returncode != 0:
        raise AssertionError(f"ffld {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "model.safetensors")


def test_killed_run_resumes_to_the_same_weights(tmp_path):
    uninterrupted = write_config(tmp_path, "whole")
    run_cli("train", str(uninterrupted))

    interrupted = write_config(tmp_path, "killed")
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ffld", "train", str(interrupted)],
        cwd=REPOSITORY,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = tmp_path / "killed" / "last.pt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if checkpoint.exists() and load_state(checkpoint)["epoch"] >= 1:  # mid-run: past one epoch end
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    state = load_state(checkpoint)
    assert (state["epoch"], state["step"]) < (3, 0)

    resumed = run_cli("train", str(interrupted))
    assert "resumed from" in resumed.stdout
    expected, actual = weights(tmp_path / "whole"), weights(tmp_path / "killed")
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name
    assert (tmp_path / "killed" / "metrics.csv").read_text().count("\n") == 4  # header + 3 epochs
    history = [{k: v for k, v in row.items() if k != "seconds"} for row in load_state(checkpoint)["history"]]
    reference = [
        {k: v for k, v in row.items() if k != "seconds"}
        for row in load_state(tmp_path / "whole" / "last.pt")["history"]
    ]
    assert history == reference


def test_nan_loss_stops_with_the_last_good_checkpoint(tmp_path, monkeypatch):
    config = load_config(write_config(tmp_path, "nan", optimizer__epochs=2))
    trainer = Trainer(config, log=lambda message: None)
    calls = {"n": 0}
    original = type(trainer.objective).__call__

    def poisoned(self, output, target, iod):
        calls["n"] += 1
        total, per_stage = original(self, output, target, iod)
        return (total * float("nan"), per_stage) if calls["n"] > trainer.steps_per_epoch + 1 else (total, per_stage)

    monkeypatch.setattr(type(trainer.objective), "__call__", poisoned)
    with pytest.raises(TrainingDiverged, match=r"epoch 2, step 2.*last\.pt"):
        trainer.run()
    state = load_state(tmp_path / "nan" / "last.pt")
    assert (state["epoch"], state["step"]) == (1, 1)
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_two_process_step_equals_one_process_step(tmp_path):
    """One optimisation step of a global batch of 16: 2 gloo processes × 8 with SyncBatchNorm vs 1 × 16."""
    one_batch = {**SMALL_SYNTHFACE, "train": {"size": 16}}
    changes = dict(
        data__test=[], data__synthface=one_batch, optimizer__epochs=1, runtime__sync_batchnorm=True,
    )  # fmt: skip
    single = write_config(tmp_path, "single", **changes)
    double = write_config(tmp_path, "double", **changes)
    run_cli("train", str(single))
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [*torchrun, "-m", "ffld", "train", str(double)], cwd=REPOSITORY, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    expected, actual = weights(tmp_path / "single"), weights(tmp_path / "double")
    assert expected["head.weight"].abs().sum() > 0  # the step moved the head off its zero start (init_mean_shape)
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=1e-4, atol=1e-6, msg=name)


def test_cli_round_trip_train_evaluate_predict_export(tmp_path):
    config = write_config(tmp_path, "cli", optimizer__epochs=1)
    run_cli("train", str(config))
    model_file = tmp_path / "cli" / "model.safetensors"

    evaluated = run_cli(
        "evaluate", str(model_file), "--dataset", "synthface", "--root", str(tmp_path / "synthface"),
        "--split", "common", "--device", "cpu", "--output", str(tmp_path / "eval"),
    )  # fmt: skip
    assert "common S3: NME" in evaluated.stdout
    assert (tmp_path / "eval" / "results.json").exists() and (tmp_path / "eval" / "per_image.csv").exists()

    image = next((tmp_path / "synthface").rglob("*.png"))
    predicted = run_cli(
        "predict", str(image), "--checkpoint", str(model_file), "--box", "10", "10", "80", "80",
        "--output", str(tmp_path / "pred"), "--device", "cpu",
    )  # fmt: skip
    assert "1 face(s)" in predicted.stdout
    assert (tmp_path / "pred" / f"{image.stem}_landmarks.png").exists()

    run_cli("export", str(model_file), "--onnx", str(tmp_path / "model.onnx"))
    import onnxruntime

    model, _ = load_model(model_file)
    images = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        expected = torch.stack(model(images).stages).numpy()
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    actual = session.run(None, {"images": images.numpy()})[0]
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-3)  # pixels; float32 kernels differ


def test_cli_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optimizer:\n  learning_rate: 1\n")
    result = run_cli("train", str(bad), check=False)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "unknown key(s) optimizer.learning_rate" in result.stderr
    result = run_cli("evaluate", str(tmp_path / "missing.safetensors"), "--dataset", "300w", check=False)
    assert result.returncode == 1 and "missing.safetensors" in result.stderr


def test_short_synthface_run_learns_and_refinement_beats_its_baseline(tmp_path):
    """Every stage's training loss falls, and S3 beats S0 of the same model on the common test split (the run that
    chapter 5 trains live, ``ffld.multiloss.small_config``)."""
    losses = ["iod_l2", "l2", "l1", "align"]
    config = small_config(losses, str(tmp_path / "learn"), root=str(tmp_path / "synthface"))
    history = train(config, log=lambda message: None)
    first, last = history[0], history[-1]
    for name in ("S0_iod_l2", "S1_l2", "S2_l1", "S3_align"):
        assert last[f"train_{name}"] < 0.8 * first[f"train_{name}"], name
    assert last["common_nme_S3"] < 0.85 * last["common_nme_S0"]


def test_align_filter_is_dropped_once_the_loss_stops_decreasing(tmp_path):
    trainer = Trainer(load_config(write_config(tmp_path, "sigma", align__patience=2)), log=lambda message: None)
    column = 1 + trainer.config.losses.index("align")
    for value in (5.0, 4.0, 4.5):
        trainer.update_align_filter([0.0] * column + [value])
        assert trainer.objective.align_sigma == 1.0
    trainer.update_align_filter([0.0] * column + [4.2])  # second epoch without improvement
    assert trainer.objective.align_sigma is None


def test_gpu_runtime_flags_train_like_plain_fp32(tmp_path):
    """The GPU defaults (bf16 autocast, channels_last, torch.compile) run on CPU too, and their first two steps'
    losses (total and per stage) stay within 0.2% of plain fp32 eager (bf16 keeps 8 significant bits, ~0.4%; the
    coordinates and losses stay float32)."""
    losses = {}
    for name, on in (("plain", False), ("gpu", True)):
        flags = dict(runtime__bf16=on, runtime__channels_last=on, runtime__compile=on)
        config = load_config(write_config(tmp_path, name, data__test=[], optimizer__epochs=1, **flags))
        trainer = Trainer(config, log=lambda message: None)
        losses[name] = trainer.train_step(0, 0) + trainer.train_step(0, 1)
    assert isinstance(trainer.network, torch._dynamo.eval_frame.OptimizedModule)
    assert trainer.model.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert losses["gpu"] != losses["plain"]  # bf16 did change the arithmetic
    assert losses["gpu"] == pytest.approx(losses["plain"], rel=2e-3)
