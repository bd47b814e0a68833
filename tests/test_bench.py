"""ffld bench runs and reports consistent figures (speed itself is measured, never asserted)."""

import json

import pytest
import torch
from torch import nn

from ffld.bench import _inference_callable, dlib_latency, run_benchmarks
from ffld.cli import main
from ffld.models import FFLD


def test_benchmark_figures_are_consistent():
    results = run_benchmarks(
        torch.device("cpu"), [1, 3], ["eager"], ["fp32", "bf16"], [2], num_landmarks=5, input_size=64,
        repeats=3, log=lambda line: None,
    )  # fmt: skip
    assert results["parameters"]["ffld3"] > results["parameters"]["baseline"]
    assert len(results["inference"]) == 2 * 2 * 2  # models × precisions × batches
    for row in results["inference"]:
        assert row["faces_per_s"] * row["latency_ms"] / 1000 == pytest.approx(row["batch"], rel=1e-9)
    for row in results["training"]:
        ratio = row["images_per_s_device_augmentation"] / row["images_per_s_premade"]
        assert row["input_pipeline_ratio"] == pytest.approx(ratio, rel=1e-9)


def test_compiled_forward_matches_eager():
    """``--mode compile`` times the same function: its landmarks agree with eager mode to 1e-3 px (kernels may sum
    in another order); CUDA graphs are refused without a GPU, unknown modes by name."""
    torch.manual_seed(0)
    model = FFLD(5, stages=3).eval()
    model.init_mean_shape(torch.rand(5, 2) * 40 + 12, (64, 64))  # S0 inside the image, where crops see features
    for refinement in model.refinements:  # CropNets that move the landmarks, so every stage is compared
        nn.init.normal_(refinement.cropnet.fc.weight, std=0.1)
    images = torch.rand(2, 3, 64, 64)
    eager = _inference_callable(model, images, "eager", bf16=False)()
    compiled = _inference_callable(model, images, "compile", bf16=False)()
    assert all((a - b).abs().max() > 0.01 for a, b in zip(eager.stages, eager.stages[1:], strict=False))
    for expected, actual in zip(eager.stages, compiled.stages, strict=True):
        torch.testing.assert_close(actual, expected, rtol=0, atol=1e-3)
    with pytest.raises(ValueError, match="CUDA graphs need a CUDA device"):
        _inference_callable(model, images, "cudagraph", bf16=False)
    with pytest.raises(ValueError, match="unknown mode 'jit'"):
        _inference_callable(model, images, "jit", bf16=False)


def test_bench_command_writes_results_with_provenance(tmp_path):
    output = tmp_path / "bench.json"
    arguments = ["bench", "--device", "cpu", "--batch", "1", "--train-batch", "2", "--landmarks", "5", "--repeats", "2"]
    assert main([*arguments, "--input-size", "64", "--output", str(output)]) == 0
    results = json.loads(output.read_text())
    assert {"command", "commit", "device", "versions", "date"} <= set(results["provenance"])
    assert results["inference"][0]["latency_ms"] > 0


def test_dlib_shape_predictor_is_timed():
    pytest.importorskip("dlib", reason="dlib-bin is not installed")
    result = dlib_latency(repeats=5, warmup=1)
    assert result["latency_ms"] > 0 and result["model"].startswith("dlib")
