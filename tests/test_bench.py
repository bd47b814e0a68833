"""ffld bench runs and reports consistent figures (speed itself is measured, never asserted)."""

import json
import time
from collections.abc import Callable

import pytest
import torch
from torch import nn

from ffld.bench import (
    _inference_callable,
    dlib_latency,
    median_seconds,
    memory_format,
    run_benchmarks,
    run_settings,
    training_speed,
)
from ffld.cli import main
from ffld.footprint import optimizer_state_bytes
from ffld.models import FFLD
from ffld.recipe import runtime_flags
from ffld.train.config import TrainConfig


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
        torch.testing.assert_close(actual, expected, rtol=0, atol=1e-4)  # pixels; ~1e-5 seen
    with pytest.raises(ValueError, match="CUDA graphs need a CUDA device"):
        _inference_callable(model, images, "cudagraph", bf16=False)
    with pytest.raises(ValueError, match="unknown mode 'jit'"):
        _inference_callable(model, images, "jit", bf16=False)


def test_every_compiled_figure_runs_its_own_static_graph(monkeypatch):
    """Each ``--mode compile`` figure compiles the model afresh for its one input shape. Dynamo's cache belongs to
    ``FFLD.forward``, so a cache shared by the grid's figures recompiles, and past torch's limit (8) runs eager;
    here the limit is 1 and reaching it fails, and shapes would be dynamic from the first compile unless the
    figure asks for static ones. A recording backend stands in for inductor, to keep the test fast."""
    graphs: list[bool] = []  # whether each compiled graph has static shapes only

    def recording(graph: torch.fx.GraphModule, example_inputs: list[torch.Tensor]) -> Callable[..., object]:
        values = [node.meta["example_value"] for node in graph.graph.nodes if node.op == "placeholder"]
        graphs.append(all(isinstance(v, torch.Tensor) and all(type(d) is int for d in v.shape) for v in values))
        return graph.forward

    compile_with = torch.compile
    monkeypatch.setattr(torch, "compile", lambda model, **options: compile_with(model, backend=recording, **options))
    limits = {"recompile_limit": 1, "fail_on_recompile_limit_hit": True, "assume_static_by_default": False}
    with torch._dynamo.config.patch(limits):
        results = run_benchmarks(
            torch.device("cpu"), [1, 2], ["compile"], ["fp32", "bf16"], [], num_landmarks=5, input_size=32,
            repeats=2, log=lambda line: None,
        )  # fmt: skip
    assert [row["batch"] for row in results["inference"]] == [1, 2] * 4  # models × precisions × batches
    assert graphs == [True] * 8


def test_results_record_what_fp32_means_and_the_trainers_memory_format():
    """The settings are read when the benchmark runs, not assumed; the memory format follows the trainer's rule."""
    precision = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("high")
        with torch.backends.cudnn.flags(enabled=True, benchmark=True, allow_tf32=False):
            settings = run_settings(torch.device("cuda"))
    finally:
        torch.set_float32_matmul_precision(precision)
    assert settings == {
        "cudnn_allow_tf32": False,
        "cuda_matmul_allow_tf32": True,
        "float32_matmul_precision": "high",
        "cudnn_benchmark": True,
        "memory_format": "channels_last",
    }
    assert run_settings(torch.device("cpu"))["memory_format"] == "contiguous_format"
    for device in ("cpu", "cuda"):
        trainer = runtime_flags(TrainConfig(), device)["channels_last"]
        assert (memory_format(torch.device(device)) == torch.channels_last) == trainer


@pytest.mark.skipif(not torch.cuda.is_available(), reason="peak GPU memory needs CUDA")
def test_peak_step_memory_counts_the_step_not_the_rest_of_the_device():
    """The step's peak holds at least the weights, gradients and Adam's two moments, and does not change when
    another 256 MiB are allocated on the device."""
    cuda = torch.device("cuda")

    def peak_mb() -> float:
        torch.manual_seed(0)
        model = FFLD(68, stages=3)
        return training_speed(model, cuda, 4, input_size=64, warmup=1, repeats=1)["peak_step_memory_mb"]

    peak_mb()  # the first step on the device also allocates the workspaces kept for later ones
    alone = peak_mb()
    ballast = torch.empty(2**28, dtype=torch.uint8, device=cuda)
    assert peak_mb() == pytest.approx(alone, abs=1)
    assert alone > optimizer_state_bytes(FFLD(68, stages=3)) / 2**20
    del ballast


def test_bench_command_writes_results_with_provenance(tmp_path):
    output = tmp_path / "bench.json"
    arguments = ["bench", "--device", "cpu", "--batch", "1", "--train-batch", "2", "--landmarks", "5", "--repeats", "2"]
    assert main([*arguments, "--input-size", "64", "--output", str(output)]) == 0
    results = json.loads(output.read_text())
    assert {"command", "commit", "device", "versions", "date"} <= set(results["provenance"])
    assert results["inference"][0]["latency_ms"] > 0
    assert results["settings"] == run_settings(torch.device("cpu"))


def test_dlib_shape_predictor_is_timed():
    pytest.importorskip("dlib", reason="dlib-bin is not installed")
    result = dlib_latency(repeats=5, warmup=1)
    assert result["latency_ms"] > 0 and result["model"].startswith("dlib")


def test_median_seconds_warms_up_then_takes_the_median_of_the_timed_runs(monkeypatch):
    clock = iter([0.0, 3.0, 10.0, 11.0, 20.0, 22.0])  # timed runs of 3, 1 and 2 s
    monkeypatch.setattr(time, "perf_counter", lambda: next(clock))
    calls = []
    assert median_seconds(lambda: calls.append(1), torch.device("cpu"), warmup=2, repeats=3) == 2.0
    assert len(calls) == 5
