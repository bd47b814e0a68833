"""The ``ffld`` command ends on bad input (a foreign checkpoint, a device it cannot use, a missing optional package,
a failed experiment run) with one line on stderr naming the file or run, and exit status 1; a bug keeps its
traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import ffld.checkpoint
from ffld.bench import DLIB_INSTALL
from ffld.checkpoint import load_model
from ffld.cli import main
from ffld.data.pts import read_pts
from ffld.predict import predict_landmarks

MODEL = Path(__file__).resolve().parents[1] / "data" / "models" / "synthface-cpu-baseline.safetensors"
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


def test_output_paths_are_checked_before_any_work(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("")
    missing = str(tmp_path / "no-model.safetensors")  # would fail later: the output is checked first
    assert error_line(capsys, "evaluate", missing, "--dataset", "synthface", "--output", str(afile)) == (
        f"ffld evaluate: error: {afile}: exists and is not a folder; give a folder for the outputs"
    )
    assert error_line(capsys, "export", missing, "--onnx", str(tmp_path)) == (
        f"ffld export: error: {tmp_path}: is a folder; give a file name"
    )
    assert error_line(capsys, "bench", "--output", str(tmp_path)) == (
        f"ffld bench: error: {tmp_path}: is a folder; give a file name"
    )
    assert error_line(capsys, "train", "synthface-cpu", "--output", str(afile)) == (
        f"ffld train: error: {afile}: exists and is not a folder; give a folder for the outputs"
    )
    assert error_line(capsys, "experiment", "synthface-cpu", "--results", str(afile)) == (
        f"ffld experiment: error: {afile / 'synthface-cpu'}: cannot be made, since {afile} is a file; give a folder "
        "for the outputs"
    )
    assert error_line(
        capsys, "predict", "--checkpoint", missing, str(afile), "--output", str(afile / "deeper" / "out")
    ) == (
        f"ffld predict: error: {afile / 'deeper' / 'out'}: cannot be made, since {afile} is a file; give a folder "
        "for the outputs"
    )


def test_a_command_that_fails_leaves_no_output_folder(tmp_path, capsys):
    """The output folders are checked first but made only by the writers, so a failed command leaves nothing."""
    missing = str(tmp_path / "no-model.safetensors")
    assert missing in error_line(
        capsys, "evaluate", missing, "--dataset", "synthface", "--output", str(tmp_path / "evaluation")
    )
    assert missing in error_line(
        capsys, "predict", "--checkpoint", missing, missing, "--output", str(tmp_path / "predictions")
    )
    assert missing in error_line(capsys, "export", missing, "--onnx", str(tmp_path / "onnx" / "model.onnx"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["experiment", "synthface-cpu", "--jobs", "0"], "argument --jobs: must be > 0, got 0"),
        (["bench", "--repeats", "-1"], "argument --repeats: must be > 0, got -1"),
        (["bench", "--batch", "1.5"], "argument --batch: expected an integer, got '1.5'"),
        (["evaluate", "m.safetensors", "--dataset", "300w", "--threshold", "0"], "argument --threshold: must be > 0"),
        (["evaluate", "m.safetensors", "--dataset", "300w", "--workers", "-2"], "argument --workers: must be >= 0"),
    ],
)
def test_numbers_out_of_range_are_refused_by_the_parser(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_a_threshold_given_in_percent_is_refused_before_any_work(capsys):
    assert error_line(capsys, "evaluate", "no-model.safetensors", "--dataset", "300w", "--threshold", "8") == (
        "ffld evaluate: error: the threshold is a fraction of the normaliser (0.08 for 8%), got 8.0"
    )


def test_predict_refuses_an_empty_box_and_images_whose_outputs_collide(tmp_path, capsys):
    model = str(MODEL)
    assert error_line(capsys, "predict", "x.png", "--checkpoint", model, "--box", "215", "225", "40", "45") == (
        "ffld predict: error: --box 215 225 40 45: needs X1 > X0 and Y1 > Y0"
    )
    line = error_line(capsys, "predict", "a/face.png", "b/face.jpg", "--checkpoint", model, "--output", str(tmp_path))
    assert line.startswith("ffld predict: error: several images are named face: their drawings and .pts files in")


def test_predict_goes_on_past_an_unreadable_image(tmp_path, capsys):
    import cv2

    from ffld.data.synthetic import SynthFaceConfig, render_sample

    sample = render_sample(SynthFaceConfig(), "common", 0)
    cv2.imwrite(str(tmp_path / "face.png"), cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR))
    (tmp_path / "notes.png").write_text("not an image")
    box = [f"{v:.1f}" for v in (20, 20, sample.image.shape[1] - 20, sample.image.shape[0] - 20)]
    argv = ["predict", str(tmp_path / "notes.png"), str(tmp_path / "face.png"), "--box", *box]
    argv += ["--checkpoint", str(MODEL), "--output", str(tmp_path / "out")]
    assert main(argv) == 1
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert len(errors) == 2 and errors[0].startswith(f"ffld predict: error: {tmp_path / 'notes.png'}: ")
    assert errors[1] == "ffld predict: error: 1 of 2 images could not be predicted (named above)"
    assert (tmp_path / "out" / "face_face0.pts").exists() and "face.png: 1 face(s)" in captured.out

    model, metadata = load_model(MODEL)
    written = {}
    for passes in (1, 3):
        argv = ["predict", str(tmp_path / "face.png"), "--box", *box, "--passes", str(passes)]
        assert main([*argv, "--checkpoint", str(MODEL), "--output", str(tmp_path / f"passes{passes}")]) == 0
        expected = predict_landmarks(model, metadata, sample.image, np.array([[float(v) for v in box]]), passes=passes)
        written[passes] = read_pts(tmp_path / f"passes{passes}" / "face_face0.pts", 68)
        np.testing.assert_allclose(written[passes], expected[0], rtol=0, atol=1e-6)  # .pts keeps 6 decimals
    assert np.abs(written[1] - written[3]).max() > 0.01  # the option reaches the prediction
    capsys.readouterr()

    height, width = sample.image.shape[:2]
    outside = ["1000", "1000", "1100", "1100"]
    argv = ["predict", str(tmp_path / "face.png"), "--box", *outside, "--checkpoint", str(MODEL)]
    assert main([*argv, "--output", str(tmp_path / "outside")]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"ffld predict: error: {tmp_path / 'face.png'}: --box 1000 1000 1100 1100 lies outside the {width}×{height} "
        "image",
        "ffld predict: error: 1 of 1 images could not be predicted (named above)",
    ]

    cv2.imwrite(str(tmp_path / "wall.png"), np.full((120, 160, 3), 128, np.uint8))  # nothing for the detector
    argv = ["predict", str(tmp_path / "wall.png"), "--checkpoint", str(MODEL)]
    assert main([*argv, "--output", str(tmp_path / "detected")]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"ffld predict: error: {tmp_path / 'wall.png'}: no face found (give one with --box X0 Y0 X1 Y1)",
        "ffld predict: error: 1 of 1 images could not be predicted (named above)",
    ]


def test_an_interrupt_ends_with_one_line_and_status_130(tmp_path, monkeypatch, capsys):
    import ffld.train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ffld.train, "train", interrupted)
    assert main(["train", "synthface-cpu", "--output", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "ffld train: interrupted; the same command resumes from the last checkpoint\n"


def test_under_torchrun_only_rank_0_reports_the_interrupt(tmp_path, monkeypatch, capsys):
    import ffld.train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ffld.train, "train", interrupted)
    monkeypatch.setenv("RANK", "1")
    assert main(["train", "synthface-cpu", "--output", str(tmp_path)]) == 130
    assert capsys.readouterr().err == ""
