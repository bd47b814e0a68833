"""Model size, arithmetic and training memory (Sect. 6.5), counted rather than timed, and CPU latency.

* :func:`parameter_counts` and :func:`flop_counts` split the model into its baseline (backbone + FC head) and each
  refinement stage. FLOPs are counted by :class:`torch.utils.flop_counter.FlopCounterMode` (2 per multiply-add
  of convolutions and matrix products); it does not count batch norms, activations, pooling or the bilinear crops
  (``grid_sample``), which are a small share of the work.
* :func:`saved_tensor_bytes` measures the memory a training step keeps for its backward pass: every tensor autograd
  saves during the forward pass and the losses, counted once per storage. With the parameters, their gradients and
  Adam's two moments (:func:`optimizer_state_bytes`), it is most of what training needs at a given batch size.
* :func:`training_peak_rss` runs one optimisation step in a fresh process and reports its peak resident memory.
* :func:`cpu_latency` times models against each other, interleaved, on one thread: on a machine shared with other
  jobs, several OpenMP threads wait for each other whenever one is descheduled, and timings swing by orders of
  magnitude; one thread, interleaved runs and medians keep the comparison fair.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from ffld.data.specs import IBUG68, inter_ocular
from ffld.models import FFLD
from ffld.train.config import PAPER_LOSSES
from ffld.train.objective import MultiLoss


def _parts(model: FFLD) -> dict[str, list[torch.nn.Module]]:
    parts = {"baseline": [model.backbone, model.head]}
    parts.update({f"stage {k}": [stage] for k, stage in enumerate(model.refinements, start=1)})
    return parts


def parameter_counts(model: FFLD) -> dict[str, int]:
    """Parameters of the baseline, of each refinement stage and in ``"total"``."""
    counts = {
        name: sum(p.numel() for module in modules for p in module.parameters())
        for name, modules in _parts(model).items()
    }
    counts["total"] = sum(p.numel() for p in model.parameters())
    return counts


def flop_counts(model: FFLD, input_size: int = 224, batch: int = 1) -> dict[str, int]:
    """FLOPs of one forward pass on ``batch`` images of ``input_size``², split as in :func:`parameter_counts`."""
    model = model.eval()
    images = torch.rand(batch, 3, input_size, input_size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(images)
    by_module = counter.get_flop_counts()
    counts = {"baseline": sum(sum(by_module.get(f"FFLD.{name}", {}).values()) for name in ("backbone", "head"))}
    for k in range(1, len(model.refinements) + 1):
        counts[f"stage {k}"] = sum(by_module.get(f"FFLD.refinements.{k - 1}", {}).values())
    counts["total"] = counter.get_total_flops()
    return counts


def _batch(model: FFLD, batch: int, input_size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, input_size, input_size, generator=generator)
    target = torch.rand(batch, model.num_landmarks, 2, generator=generator) * input_size * 0.6 + input_size * 0.2
    return images, target


def saved_tensor_bytes(model: FFLD, batch: int, input_size: int = 224, bf16: bool = False) -> int:
    """Bytes of the tensors a training step saves for its backward pass (paper's losses, random images).

    Each storage is counted once (views and tensors saved by several operations share one). The parameters that
    operations save (e.g. convolution weights) are included.
    """
    if model.num_landmarks != IBUG68.num_points:
        raise ValueError("the inter-ocular distance of the IOD loss needs the 68-landmark layout")
    model = model.train()
    count = len(model.refinements) + 1
    objective = MultiLoss(list(PAPER_LOSSES[:count]), [1.0] * count, model.stage_levels)
    images, target = _batch(model, batch, input_size)
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            output = model(images)
        losses = objective(output, target, inter_ocular(target, IBUG68))
    del losses, output
    return sum(storages.values())


def optimizer_state_bytes(model: FFLD) -> int:
    """Bytes of the parameters, their gradients and Adam's two moment estimates (4 copies, fp32)."""
    return 4 * sum(p.numel() * p.element_size() for p in model.parameters())


def _status_mb(field: str) -> float:
    """A memory figure of this process from ``/proc/self/status`` (Linux), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _step_in_this_process(batch: int, input_size: int, stages: int) -> dict[str, float]:
    from ffld.train.engine import optimisation_step

    torch.manual_seed(0)
    model = FFLD(IBUG68.num_points, stages=stages)
    objective = MultiLoss(list(PAPER_LOSSES[: stages + 1]), [1.0] * (stages + 1), model.stage_levels)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-6, weight_decay=5e-4)
    images, target = _batch(model, batch, input_size)
    before = _status_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current resident size
    optimisation_step(model, optimizer, objective, images, target, inter_ocular(target, IBUG68), False)
    return {"rss_mb_before_step": before, "peak_rss_mb": _status_mb("VmHWM")}


def training_peak_rss(batch: int, input_size: int = 224, stages: int = 3, threads: int = 2) -> dict[str, float]:
    """Resident memory (MiB) of a fresh process just before one optimisation step on the CPU, and its peak during
    the step (Linux: the peak is reset through ``/proc/self/clear_refs`` before the step).

    The process builds the 68-landmark model with ``stages`` refinement stages and takes one Adam step with the
    paper's losses on ``batch`` random images; the difference is what the step added at its peak.
    """
    code = (
        "import json, sys, torch; from ffld.footprint import _step_in_this_process; "
        f"torch.set_num_threads({threads}); "
        f"print(json.dumps(_step_in_this_process({batch}, {input_size}, {stages})))"
    )
    root = str(Path(__file__).resolve().parent.parent)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"the training step failed: {result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def cpu_latency(
    models: dict[str, torch.nn.Module], input_size: int = 224, batch: int = 1, repeats: int = 30, warmup: int = 5,
    threads: int = 1,
) -> dict[str, dict[str, float]]:  # fmt: skip
    """Forward-pass latency of each model on the CPU, the models' runs interleaved, on ``threads`` threads.

    Returns:
        Per model: ``median_ms``, ``min_ms`` and ``max_ms`` over ``repeats`` timed runs (after ``warmup`` each),
        and ``faces_per_s`` from the median.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    images = torch.rand(batch, 3, input_size, input_size, generator=torch.Generator().manual_seed(0))
    times: dict[str, list[float]] = {name: [] for name in models}
    try:
        with torch.no_grad():
            for model in models.values():
                model.eval()
                for _ in range(warmup):
                    model(images)
            for _ in range(repeats):
                for name, model in models.items():
                    start = time.perf_counter()
                    model(images)
                    times[name].append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return {
        name: {
            "median_ms": 1000 * statistics.median(values),
            "min_ms": 1000 * min(values),
            "max_ms": 1000 * max(values),
            "faces_per_s": batch / statistics.median(values),
        }
        for name, values in times.items()
    }


__all__ = [
    "cpu_latency",
    "flop_counts",
    "optimizer_state_bytes",
    "parameter_counts",
    "saved_tensor_bytes",
    "training_peak_rss",
]
