"""The training engine on a small SynthFace: learning, kill-and-resume (and what a resume refuses), NaN stop, 2-process
DDP, initial weights, evaluation precision, the CLI."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
import yaml
from safetensors.torch import load_file

from ffld.checkpoint import CheckpointError, load_model, load_state, save_model
from ffld.evaluate import evaluate_checkpoint, evaluate_faces
from ffld.models import FFLD
from ffld.multiloss import small_config
from ffld.train import TrainingDiverged, engine, load_config, train
from ffld.train.engine import Trainer
from ffld.train.interrupt import SIGNALS, StopRequests
from tests.test_distributed import free_port

REPOSITORY = Path(__file__).resolve().parent.parent
SMALL_SYNTHFACE = {"image_size": 96, "train": {"size": 64}, "common": {"size": 16}, "challenge": {"size": 8}}
TINY_SYNTHFACE = {**SMALL_SYNTHFACE, "train": {"size": 32}}  # two steps of 16 per epoch


def quiet(message: str) -> None:
    """A log that drops its messages."""


@pytest.fixture
def one_thread():
    """Train in-process on one thread: tiny runs are faster so, on a machine whose cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


def untimed(history: list[dict]) -> list[dict]:
    """A training history without its wall-clock times (the one column two identical runs differ in)."""
    return [{key: value for key, value in row.items() if key != "seconds"} for row in history]


def logged_epochs(run: Path) -> list[int]:
    with open(run / "metrics.csv", newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def tiny_config(folder: Path, name: str, **changes) -> Path:
    """:func:`write_config` on 32 training faces and no test split, for one epoch."""
    defaults = dict(data__synthface=TINY_SYNTHFACE, data__test=[], optimizer__epochs=1)
    return write_config(folder, name, **{**defaults, **changes})


def start_training(config: Path, output: int) -> subprocess.Popen:
    """``ffld train config`` in a process of its own, its stdout and stderr sent to ``output`` (text)."""
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "ffld", "train", str(config)]
    return subprocess.Popen(command, cwd=REPOSITORY, env=environment, stdout=output, stderr=output, text=True)


def wait_for_epochs(process: subprocess.Popen, checkpoint: Path, epochs: int, timeout: float = 120) -> None:
    """Wait until ``checkpoint`` holds ``epochs`` trained epochs, the process ends, or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if checkpoint.exists() and load_state(checkpoint)["epoch"] >= epochs:
            return
        time.sleep(0.05)


def test_killed_run_resumes_to_the_same_weights(tmp_path):
    uninterrupted = write_config(tmp_path, "whole")
    run_cli("train", str(uninterrupted))

    interrupted = write_config(tmp_path, "killed")
    process = start_training(interrupted, subprocess.DEVNULL)
    checkpoint = tmp_path / "killed" / "last.pt"
    wait_for_epochs(process, checkpoint, 1)  # mid-run: past one epoch end
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
    assert untimed(load_state(checkpoint)["history"]) == untimed(load_state(tmp_path / "whole" / "last.pt")["history"])


def test_stop_requests_turn_signals_into_a_flag_and_a_second_ctrl_c_into_an_interrupt():
    before = {signum: signal.getsignal(signum) for signum in SIGNALS}
    with StopRequests() as stop:
        signal.raise_signal(signal.SIGINT)
        assert stop.requested
        signal.raise_signal(signal.SIGTERM)  # e.g. from a parent that got the same Ctrl-C: still a request
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert {signum: signal.getsignal(signum) for signum in SIGNALS} == before


def test_a_signal_stops_training_at_the_next_step_boundary_with_a_checkpoint(tmp_path, monkeypatch, one_thread):
    """No ``checkpoint_every``: without the stop, the last checkpoint would be the end of epoch 1."""
    changes = {"optimizer__epochs": 2, "runtime__checkpoint_every": 0}
    train(load_config(tiny_config(tmp_path, "whole", **changes)), log=quiet)
    config = load_config(tiny_config(tmp_path, "stopped", **changes))
    take_step = Trainer.train_step

    def signalled(self, epoch, step):
        losses = take_step(self, epoch, step)
        if (epoch, step) == (1, 0):  # the first of epoch 2's two steps
            signal.raise_signal(signal.SIGTERM)
        return losses

    monkeypatch.setattr(Trainer, "train_step", signalled)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        train(config, log=lines.append)
    monkeypatch.undo()
    checkpoint = tmp_path / "stopped" / "last.pt"
    assert lines[-1] == f"stopped at epoch 2, step 1; {checkpoint} holds every step taken"
    state = load_state(checkpoint)
    assert (state["epoch"], state["step"]) == (1, 1)

    resumed = []
    train(config, log=resumed.append)
    assert f"resumed from {checkpoint} at epoch 2, step 1" in resumed
    expected, actual = weights(tmp_path / "whole"), weights(tmp_path / "stopped")
    assert expected.keys() == actual.keys() and all(torch.equal(expected[k], actual[k]) for k in expected)
    assert untimed(load_state(checkpoint)["history"]) == untimed(load_state(tmp_path / "whole" / "last.pt")["history"])


def test_a_resumed_epoch_counts_the_seconds_of_its_steps_before_the_stop(tmp_path, monkeypatch, one_thread):
    """Each step takes 10 s of a fake clock: an epoch of two steps stopped after the first and resumed took 20 s, as
    it does uninterrupted (its first invocation's time until the stop is counted, not only the resumed part's)."""
    clock = [0.0]
    monkeypatch.setattr(engine.time, "perf_counter", lambda: clock[0])
    take_step = Trainer.train_step

    def timed(self, epoch, step):
        clock[0] += 10.0
        losses = take_step(self, epoch, step)
        if (epoch, step) == (0, 0) and self.output.name == "stopped":
            signal.raise_signal(signal.SIGTERM)
        return losses

    monkeypatch.setattr(Trainer, "train_step", timed)
    changes = {"optimizer__epochs": 1, "runtime__checkpoint_every": 0, "runtime__eval_every": 5}
    whole = train(load_config(tiny_config(tmp_path, "whole", **changes)), log=quiet)
    config = load_config(tiny_config(tmp_path, "stopped", **changes))
    with pytest.raises(KeyboardInterrupt):
        train(config, log=quiet)
    clock[0] += 1000.0  # the time between the stop and the resumption is not the epoch's
    resumed = train(config, log=quiet)
    assert [row["seconds"] for row in whole] == [row["seconds"] for row in resumed] == [20.0]


def test_sigterm_ends_ffld_train_with_a_checkpoint_and_one_line(tmp_path):
    config = tiny_config(tmp_path, "terminated", optimizer__epochs=100, runtime__checkpoint_every=0)
    process = start_training(config, subprocess.PIPE)
    checkpoint = tmp_path / "terminated" / "last.pt"
    wait_for_epochs(process, checkpoint, 1)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr == "ffld train: interrupted; the same command resumes from the last checkpoint\n"
    assert f"; {checkpoint} holds every step taken" in stdout.splitlines()[-1]
    state = load_state(checkpoint)
    assert (
        state["epoch"] < 100
        and "stopped at "
        + (
            f"epoch {state['epoch'] + 1}, step {state['step']}"
            if state["step"]
            else f"the end of epoch {state['epoch']}"
        )
        in stdout
    )


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


def test_non_finite_weights_are_never_saved(tmp_path):
    """A step with a finite loss can still leave NaN weights (too large a learning rate): the epoch's checkpoint and
    model file are then refused, and the previous ones stay."""
    config = load_config(write_config(tmp_path, "nan-weights", optimizer__epochs=2))
    trainer = Trainer(config, log=lambda message: None)
    calls = {"n": 0}

    def poison(optimizer, args, kwargs):
        calls["n"] += 1
        if calls["n"] == 2 * trainer.steps_per_epoch:  # the last step of epoch 2: its loss was finite
            trainer.model.backbone.bn1.running_var.fill_(float("nan"))

    trainer.optimizer.register_step_post_hook(poison)
    with pytest.raises(
        TrainingDiverged, match=r"^1 weight tensor\(s\) became non-finite \(backbone\.bn1\.running_var\) "
    ):
        trainer.run()
    state = load_state(tmp_path / "nan-weights" / "last.pt")
    assert state["epoch"] == 1  # within epoch 2: its last mid-epoch checkpoint (checkpoint_every)
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())
    model, _ = load_model(tmp_path / "nan-weights" / "model.safetensors")
    assert all(torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point())


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
        [*torchrun, "-m", "ffld", "train", str(double)], cwd=REPOSITORY, env=environment,
        capture_output=True, text=True, timeout=600,  # a hung process group fails here instead of stalling the suite
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    expected, actual = weights(tmp_path / "single"), weights(tmp_path / "double")
    assert expected["head.weight"].abs().sum() > 0  # the step moved the head off its zero start (init_mean_shape)
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=1e-4, atol=1e-6, msg=name)
    # the logged training losses are the whole batch's (both processes' halves), within float32 summation order
    (single_row,), (double_row,) = (load_state(tmp_path / run / "last.pt")["history"] for run in ("single", "double"))
    losses = [key for key in single_row if key.startswith("train_")]
    assert [double_row[key] for key in losses] == pytest.approx([single_row[key] for key in losses], rel=1e-5)


def _train_one_of_two(rank: int, port: int, config: str, folder: str) -> None:
    """Process ``rank`` of 2 (gloo): train ``config`` and save its history and Align-filter state."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2"
    )
    torch.set_num_threads(1)
    trainer = Trainer(load_config(config), log=quiet)
    wrapper = weakref.ref(trainer.network)  # the DistributedDataParallel module
    try:
        history = untimed(trainer.run())
        align = [trainer.objective.align_sigma, trainer.align_best, trainer.align_stale]
    finally:
        trainer.close()
    freed = wrapper() is None  # close() frees DDP's reducer before the process group goes (no GIL deadlock)
    torch.save({"history": history, "align": align, "ddp_freed": freed}, Path(folder) / f"rank{rank}.pt")


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_both_processes_decide_on_the_whole_batch_loss(tmp_path, one_thread):
    """2 epochs of 2 steps, 2 gloo processes × 8 faces with SyncBatchNorm, checkpointing every step: both processes
    log the same training losses and end with the same Align-filter state, bit for bit, and these are one
    process's on the whole batches of 16 within 5e-5 relative (the float32 sums of DDP and SyncBatchNorm run in
    another order; the losses agree within 1e-7 after one step, within 1e-5 after four)."""
    changes = dict(optimizer__epochs=2, runtime__sync_batchnorm=True, align__patience=1, runtime__checkpoint_every=1)
    trainer = Trainer(load_config(tiny_config(tmp_path, "alone", **changes)), log=quiet)
    alone = untimed(trainer.run())
    pair = tiny_config(tmp_path, "pair", **changes)
    mp.spawn(_train_one_of_two, args=(free_port(), str(pair), str(tmp_path)), nprocs=2, join=True)
    first, second = (torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(2))
    assert first == second and first["ddp_freed"]
    assert first["align"][0] == trainer.objective.align_sigma and first["align"][2] == trainer.align_stale
    assert first["align"][1] == pytest.approx(trainer.align_best, rel=5e-5)
    for row, reference in zip(first["history"], alone, strict=True):
        assert row.keys() == reference.keys()
        assert list(row.values()) == pytest.approx(list(reference.values()), rel=5e-5), row["epoch"]


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

    exported = run_cli("export", str(model_file), "--onnx", str(tmp_path / "model.onnx"))
    assert exported.stderr == ""  # no tracer warning
    import onnx
    import onnxruntime

    model, metadata = load_model(model_file)
    exported = onnx.load(str(tmp_path / "model.onnx"))
    stored = {prop.key: json.loads(prop.value) for prop in exported.metadata_props}
    assert stored == json.loads(json.dumps(metadata)) and stored["input_size"] == 64
    images = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        expected = torch.stack(model(images).stages).numpy()
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    actual = session.run(None, {"images": images.numpy()})[0]
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-4)  # pixels; float32 kernels differ (~3e-5)


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


@pytest.mark.parametrize(("stages", "losses", "column"), [(0, ["iod_l2"], False), (3, None, True)])
def test_metrics_have_an_align_sigma_column_only_with_align_loss(tmp_path, one_thread, stages, losses, column):
    """A baseline (IOD-normalised L2 alone) has no Align Loss filter, so its metrics.csv records no σ for it."""
    changes = {"model__stages": stages, "optimizer__epochs": 1, "data__synthface": TINY_SYNTHFACE}
    config = load_config(write_config(tmp_path, **changes, **({"losses": losses} if losses else {})))
    train(config, log=quiet)
    with open(Path(config.output) / "metrics.csv") as handle:
        header = next(csv.reader(handle))
    assert ("align_sigma" in header) is column
    assert ("train_S3_align" in header) is column


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


def test_resume_refuses_a_changed_recipe_and_accepts_changed_runtime_settings(tmp_path, one_thread):
    path = tiny_config(tmp_path, "resume")
    train(load_config(path), log=quiet)
    recipe = {"optimizer.lr": 0.05, "optimizer.lr_step": 1, "optimizer.batch_size": 32, "runtime.seed": 7}
    with pytest.raises(ValueError) as error:
        Trainer(load_config(path, recipe), log=quiet)
    assert str(error.value).startswith(f"{tmp_path / 'resume' / 'last.pt'}: was written with another configuration")
    changes = ["optimizer.batch_size: 16 → 32", "optimizer.lr: 0.001 → 0.05", "optimizer.lr_step: 2 → 1"]
    for change in [*changes, "runtime.seed: 0 → 7"]:
        assert change in str(error.value)
    with pytest.raises(ValueError, match=r"runtime\.sync_batchnorm: False → True"):
        Trainer(load_config(path, {"runtime.sync_batchnorm": True}), log=quiet)

    runtime = {
        "runtime.device": "cpu",
        "runtime.bf16": False,
        "runtime.channels_last": False,
        "runtime.workers": 1,
        "runtime.checkpoint_every": 0,
        "runtime.eval_every": 1,
        "optimizer.epochs": 2,
    }
    lines = []
    history = train(load_config(path, runtime), log=lines.append)
    assert f"resumed from {tmp_path / 'resume' / 'last.pt'} at epoch 2, step 0" in lines
    assert [row["epoch"] for row in history] == [1, 2] and history[1]["lr"] == 1e-3  # the run's own schedule


def test_resume_accepts_moved_data_and_refuses_other_data(tmp_path, one_thread):
    path = tiny_config(tmp_path, "moved")
    train(load_config(path), log=quiet)
    checkpoint = tmp_path / "moved" / "last.pt"
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "synthface", copy)
    resumed = []
    train(load_config(path, {"data.root": str(copy), "optimizer.epochs": 2}), log=resumed.append)
    assert f"resumed from {checkpoint} at epoch 2, step 0" in resumed
    metadata = load_model(tmp_path / "moved" / "model.safetensors")[1]
    assert len(metadata["earlier_provenance"]) == 1 and metadata["provenance"]["cwd"] == os.getcwd()
    assert metadata["earlier_provenance"][0]["date"] <= metadata["provenance"]["date"]
    record = json.loads((tmp_path / "moved" / "run.json").read_text())  # the same, readable without ffld
    assert next(iter(record)) == "provenance" and record["provenance"] == metadata["provenance"]
    assert record["earlier_provenance"] == metadata["earlier_provenance"] and record["config"] == metadata["config"]
    assert (record["epochs_trained"], record["steps_into_epoch"]) == (2, 0)
    assert record["train_data"] == torch.load(checkpoint, weights_only=True)["train_data"]

    first = sorted(copy.glob("*/train/*.pts"))[0]
    lines = first.read_text().splitlines()
    x, y = lines[3].split()
    first.write_text("\n".join([*lines[:3], f"{float(x) + 0.5} {y}", *lines[4:]]) + "\n")
    prefix = f"{checkpoint}: was trained on other data: the 'train' split at data.root={str(copy)!r} has"
    with pytest.raises(ValueError) as error:
        Trainer(load_config(path, {"data.root": str(copy), "optimizer.epochs": 3}), log=quiet)
    assert str(error.value).startswith(f"{prefix} the same number of faces, with other landmarks; ")
    meta = first.parent / "meta.json"  # SynthFace's list of faces
    listing = json.loads(meta.read_text())
    meta.write_text(json.dumps({**listing, "images": listing["images"][1:]}))
    with pytest.raises(ValueError) as error:
        Trainer(load_config(path, {"data.root": str(copy), "optimizer.epochs": 3}), log=quiet)
    assert str(error.value).startswith(f"{prefix} 31 faces, not 32; ")


class Killed(Exception):
    """Stands for a kill between two files of an epoch end."""


def test_a_run_killed_before_its_final_outputs_writes_them_when_run_again(tmp_path, monkeypatch, one_thread):
    """Killed after the last epoch's ``last.pt`` but before ``model.safetensors`` and ``metrics.csv``: running it
    again writes them from ``last.pt`` (so ``Experiment.is_finished`` becomes true)."""
    config = load_config(tiny_config(tmp_path, "cut", optimizer__epochs=2))
    run = tmp_path / "cut"

    def killed_after_the_last_checkpoint(path, model, metadata):
        if load_state(run / "last.pt")["epoch"] == 2:
            raise Killed
        save_model(path, model, metadata)

    monkeypatch.setattr(engine, "save_model", killed_after_the_last_checkpoint)
    with pytest.raises(Killed):
        train(config, log=quiet)
    monkeypatch.undo()
    stale = weights(run)
    assert load_state(run / "last.pt")["epoch"] == 2 and logged_epochs(run) == [1]

    lines = []
    history = train(config, log=lines.append)
    assert lines[-1] == f"all 2 epochs were trained; {run}'s model file and CSV log are rewritten"
    assert [row["epoch"] for row in history] == logged_epochs(run) == [1, 2]
    final = load_state(run / "last.pt")["model"]
    assert weights(run).keys() == final.keys() and all(torch.equal(weights(run)[k], final[k]) for k in final)
    assert not all(torch.equal(stale[name], final[name]) for name in final)  # epoch 1's model file was replaced


def test_a_resumed_run_neither_needs_nor_loads_its_init_file(tmp_path, one_thread):
    train(load_config(tiny_config(tmp_path, "baseline")), log=quiet)
    init = tmp_path / "baseline.safetensors"
    (tmp_path / "baseline" / "model.safetensors").rename(init)
    baseline = load_model(init)[1]
    path = tiny_config(tmp_path, "tuned", init=str(init))
    first = []
    train(load_config(path), log=first.append)
    assert f"initialised from {init}" in first
    expected = {  # which weights the run started from, and how they were trained
        "path": str(init.resolve()),
        "sha256": hashlib.sha256(init.read_bytes()).hexdigest(),
        "provenance": baseline["provenance"],
        "earlier_provenance": [],
    }
    assert load_model(tmp_path / "tuned" / "model.safetensors")[1]["init"] == expected
    init.unlink()  # moved away: last.pt holds everything the run needs
    second = []
    history = train(load_config(path, {"optimizer.epochs": 2}), log=second.append)
    assert not [line for line in second if "initialised" in line]
    assert f"resumed from {tmp_path / 'tuned' / 'last.pt'} at epoch 2, step 0" in second
    assert [row["epoch"] for row in history] == [1, 2]
    assert json.loads((tmp_path / "tuned" / "run.json").read_text())["init"] == expected  # kept by the resumed run


def test_init_weights_of_other_shapes_are_refused_naming_the_file_and_tensors(tmp_path):
    init = tmp_path / "wide.safetensors"
    config = load_config(tiny_config(tmp_path, "misfit", init=str(init)))
    arguments = {"num_landmarks": 68, **vars(config.model), "width": 0.5}  # twice the channels of the config's
    save_model(init, FFLD(**arguments), {"model": arguments})
    with pytest.raises(ValueError) as error:
        Trainer(config, log=quiet)
    assert str(error.value).startswith(
        f"{init}: weights whose shapes do not fit this model: backbone.conv1.weight (32, 3, 7, 7) "
        "(this model: (16, 3, 7, 7)), backbone.bn1.weight (32,) (this model: (16,))"
    )
    assert re.search(r" and \d+ more$", str(error.value))


def test_init_weights_trained_at_another_input_size_are_refused(tmp_path):
    init = tmp_path / "larger.safetensors"
    config = load_config(tiny_config(tmp_path, "resized", init=str(init)))  # 64×64 crops
    arguments = {"num_landmarks": 68, **vars(config.model)}
    save_model(init, FFLD(**arguments), {"model": arguments, "input_size": 96})
    with pytest.raises(ValueError) as error:
        Trainer(config, log=quiet)
    assert str(error.value) == (
        f"{init}: was trained on 96×96 crops, but this run's data.input_size is 64; "
        "train both steps at one size (--set data.input_size=96)"
    )


@pytest.mark.parametrize("content", [{"weights": torch.zeros(2)}, [1, 2]], ids=["dict-without-metadata", "list"])
def test_a_last_pt_that_is_no_ffld_checkpoint_is_refused_naming_it(tmp_path, content):
    config = load_config(tiny_config(tmp_path, "foreign"))
    checkpoint = tmp_path / "foreign" / "last.pt"
    checkpoint.parent.mkdir()
    torch.save(content, checkpoint)
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(checkpoint))}: "):
        Trainer(config, log=quiet)


def test_training_evaluates_in_fp32_like_ffld_evaluate(tmp_path, one_thread):
    """Trained under bf16 autocast, the model's NMEs in metrics.csv are those `ffld evaluate` computes (fp32) from
    its model file, within 1e-12 relative; a bf16 evaluation differs by more than 1e-5."""
    config = load_config(tiny_config(tmp_path, "bf16", data__test=["common"], runtime__bf16=True))
    trainer = Trainer(config, log=quiet)
    assert trainer.bf16
    row = trainer.run()[-1]
    logged = np.array([row[f"common_nme_S{stage}"] for stage in range(4)])
    results = evaluate_checkpoint(tmp_path / "bf16" / "model.safetensors", "synthface", None, ["common"])
    evaluated = np.array([stage["nme"] for stage in results["subsets"]["common"]])
    np.testing.assert_allclose(evaluated, logged, rtol=1e-12, atol=0)
    rounded = evaluate_faces(trainer.model, trainer.test_faces["common"], trainer.info, bf16=True).nme.mean(axis=1)
    rounded *= 100
    assert np.abs(rounded / logged - 1).max() > 1e-5
