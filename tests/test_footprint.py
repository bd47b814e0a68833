"""ffld.footprint: parameter and FLOP counts, saved-tensor memory, peak memory, CPU latency."""

import sys

import pytest
import torch

from ffld.footprint import (
    cpu_latency,
    flop_counts,
    optimizer_state_bytes,
    parameter_counts,
    saved_tensor_bytes,
    training_peak_rss,
)
from ffld.models import FFLD


def test_parameter_counts_split_the_model():
    counts = parameter_counts(FFLD(19))
    assert counts["total"] == 1_458_928 == sum(value for key, value in counts.items() if key != "total")
    assert parameter_counts(FFLD(19, stages=0)) == {"baseline": counts["baseline"], "total": counts["baseline"]}


def test_flop_counts_add_up_and_stages_ignore_the_input_size():
    large, small = flop_counts(FFLD(5), input_size=96), flop_counts(FFLD(5), input_size=64)
    assert large["total"] == sum(value for key, value in large.items() if key != "total")
    for k in (1, 2, 3):
        assert large[f"stage {k}"] == small[f"stage {k}"] > 0
    assert large["baseline"] > small["baseline"]


def test_saved_tensor_bytes_are_linear_in_the_batch():
    torch.manual_seed(0)
    model = FFLD(68, stages=1)
    one, two, three = (saved_tensor_bytes(model, batch, input_size=64) for batch in (1, 2, 3))
    assert two - one == three - two > 0
    assert saved_tensor_bytes(model, 2, input_size=64, bf16=True) < two
    with pytest.raises(ValueError, match="68-landmark"):
        saved_tensor_bytes(FFLD(19), 1, input_size=64)
    assert optimizer_state_bytes(model) == 16 * sum(p.numel() for p in model.parameters())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_training_peak_rss_grows_during_a_step():
    result = training_peak_rss(batch=4, input_size=64, stages=1, threads=1)
    assert result["peak_rss_mb"] > result["rss_mb_before_step"] > 0


def test_cpu_latency_reports_medians_and_restores_threads():
    threads = torch.get_num_threads()
    models = {"a": FFLD(5, stages=0), "b": FFLD(5, stages=1)}
    result = cpu_latency(models, input_size=64, repeats=3, warmup=1)
    assert set(result) == {"a", "b"} and torch.get_num_threads() == threads
    for row in result.values():
        assert 0 < row["min_ms"] <= row["median_ms"] <= row["max_ms"]
        assert row["faces_per_s"] == pytest.approx(1000 / row["median_ms"])
