"""ffld bench runs and reports consistent figures (speed itself is measured, never asserted)."""

import json

import pytest
import torch

from ffld.bench import dlib_latency, run_benchmarks
from ffld.cli import main


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
