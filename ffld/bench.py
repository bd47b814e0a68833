"""Speed and memory benchmarks (Sect. 6.5): inference latency and throughput, training throughput and memory.

Inference: batch-1 latency and batched throughput (faces/s) for the baseline and the 3-stage model, in fp32 or
bf16, eager, ``torch.compile`` (compiled afresh for each figure, for its one input shape) or replayed CUDA graphs.
Training: images/s of one optimisation step at a batch size, (a) reading uint8 crops and augmenting them on the
device as the trainer does, and (b) fed pre-made float tensors, so that the ratio (a)/(b) shows what the input
pipeline costs; and the peak GPU memory of one step (a), counting the model, its gradients and optimizer state and
the step's batch and activations, not the benchmark's pool of crops nor anything else on the device.
Models and inputs are in the trainer's memory format (channels-last on CUDA). "fp32" means whatever TF32 settings
are in force (PyTorch's defaults: TF32 cuDNN convolutions, full-precision matmuls); the results record them with
the memory format under ``settings``.
All timings are medians over repeated runs after warm-up; CUDA work is synchronised before each clock read.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ffld.data.specs import IBUG68, inter_ocular
from ffld.data.transforms import LandmarkAugment
from ffld.models import FFLD
from ffld.train.config import PAPER_LOSSES, RuntimeConfig
from ffld.train.engine import optimisation_step, resolve_flag
from ffld.train.objective import MultiLoss

MODES = ("eager", "compile", "cudagraph")


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def memory_format(device: torch.device) -> torch.memory_format:
    """The trainer's memory format on ``device`` (``runtime.channels_last`` at its default): channels-last on CUDA,
    contiguous elsewhere."""
    return torch.channels_last if resolve_flag(RuntimeConfig().channels_last, device) else torch.contiguous_format


def run_settings(device: torch.device) -> dict[str, Any]:
    """What "fp32" means in this run and how tensors are laid out on ``device``: TF32 for cuDNN convolutions and
    cuBLAS matmuls (both CUDA only), the float32 matmul precision, cuDNN autotuning and :func:`memory_format`."""
    return {
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "memory_format": str(memory_format(device)).removeprefix("torch."),
    }


def median_seconds(run: Callable[[], Any], device: torch.device, warmup: int, repeats: int) -> float:
    """Median wall-clock seconds of ``run()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        run()
    _synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        _synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _allocated_bytes(device: torch.device) -> int:
    """Bytes of the tensors alive on CUDA ``device``, once garbage is collected (so that no collection during a
    later measurement frees any of them)."""
    gc.collect()
    _synchronize(device)
    return torch.cuda.memory_allocated(device)


def _peak_bytes(run: Callable[[], Any], device: torch.device, start: int) -> int:
    """Peak bytes allocated on CUDA ``device`` while ``run()`` runs, less ``start``."""
    torch.cuda.reset_peak_memory_stats(device)
    run()
    _synchronize(device)
    return torch.cuda.max_memory_allocated(device) - start


def _inference_callable(model: FFLD, images: torch.Tensor, mode: str, bf16: bool) -> Callable[[], Any]:
    """A function that runs ``model`` on ``images`` (B, 3, S, S) without gradients, in ``mode`` (:data:`MODES`)."""
    device = images.device

    def forward(network: Callable[[torch.Tensor], Any]) -> Callable[[], Any]:
        # No autocast weight cache: each weight is cast once per forward pass either way, and a cache that outlives
        # a CUDA graph capture is what the PyTorch CUDA-graph notes warn against.
        def run() -> Any:
            with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=bf16, cache_enabled=False):
                return network(images)

        return run

    eager = forward(model)
    if mode == "eager":
        return eager
    if mode == "compile":
        # Dynamo's cache belongs to FFLD.forward, shared by every model, precision and batch size; past its recompile
        # limit a function silently runs eager. A fresh cache, and one static shape, for each figure.
        torch._dynamo.reset()
        return forward(torch.compile(model, dynamic=False))
    if mode == "cudagraph":
        if device.type != "cuda":
            raise ValueError("CUDA graphs need a CUDA device")
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            for _ in range(3):
                eager()
        torch.cuda.current_stream(device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            eager()
        return graph.replay
    raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")


def inference_speed(
    model: FFLD,
    device: torch.device,
    batch: int,
    mode: str = "eager",
    bf16: bool = False,
    input_size: int = 224,
    warmup: int = 10,
    repeats: int = 50,
) -> dict[str, float]:
    """Latency (ms per batch) and throughput (faces/s) of a forward pass on random images, model and images in
    :func:`memory_format`."""
    layout = memory_format(device)
    model = model.to(device, memory_format=layout).eval()
    images = torch.rand(batch, 3, input_size, input_size, device=device).contiguous(memory_format=layout)
    seconds = median_seconds(_inference_callable(model, images, mode, bf16), device, warmup, repeats)
    return {"latency_ms": 1000 * seconds, "faces_per_s": batch / seconds}


def training_speed(
    model: FFLD,
    device: torch.device,
    batch: int,
    bf16: bool = False,
    input_size: int = 224,
    warmup: int = 3,
    repeats: int = 10,
) -> dict[str, float]:
    """Images/s of one optimisation step with on-device augmentation and with pre-made tensors, and on CUDA the
    peak memory of a step.

    The model (68 landmarks, the 300W layout ``IBUG68``) is trained with the paper's losses (IOD-L2, L2, L1, Align)
    on random crops, model and images in :func:`memory_format`. ``peak_step_memory_mb`` is the peak memory
    allocated during one step that augments on the device, after warm-up, less what was allocated before the model
    was moved to the device: it counts the weights, gradients and Adam state, the step's batch, activations and
    workspaces; not the pool of uint8 crops (the trainer's device-resident data set), the pre-made batch, nor
    anything else on the device.
    """
    if model.num_landmarks != IBUG68.num_points:
        raise ValueError(f"training_speed needs a {IBUG68.num_points}-landmark model, got {model.num_landmarks}")
    layout = memory_format(device)
    losses = list(PAPER_LOSSES[: len(model.refinements) + 1])
    objective = MultiLoss(losses, [1.0] * len(losses), model.stage_levels, 8)
    augment = LandmarkAugment(IBUG68.flip_permutation, generator=torch.Generator().manual_seed(0))
    pool = 4 * batch
    crops = torch.randint(0, 256, (pool, 3, input_size, input_size), dtype=torch.uint8, device=device)
    landmarks = torch.rand(pool, model.num_landmarks, 2, device=device) * input_size * 0.6 + input_size * 0.2

    def prepare(index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        augmented = augment.batch(crops[index], landmarks[index])
        return augmented.images.float().div_(255).contiguous(memory_format=layout), augmented.landmarks

    premade = prepare(torch.arange(batch, device=device))
    outside = _allocated_bytes(device) if device.type == "cuda" else 0
    model = model.to(device, memory_format=layout).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-6, weight_decay=5e-4)

    def step(images: torch.Tensor, target: torch.Tensor) -> None:
        optimisation_step(model, optimizer, objective, images, target, inter_ocular(target, IBUG68), bf16)

    counter = iter(range(10**9))

    def with_augmentation() -> None:
        start = next(counter) % 4 * batch
        step(*prepare(torch.arange(start, start + batch, device=device)))

    augmented_s = median_seconds(with_augmentation, device, warmup, repeats)
    premade_s = median_seconds(lambda: step(*premade), device, warmup, repeats)
    result = {
        "images_per_s_device_augmentation": batch / augmented_s,
        "images_per_s_premade": batch / premade_s,
        "input_pipeline_ratio": premade_s / augmented_s,
    }
    if device.type == "cuda":
        result["peak_step_memory_mb"] = _peak_bytes(with_augmentation, device, outside) / 2**20
    return result


class MissingDependencyError(RuntimeError):
    """A package that an optional benchmark needs is not installed."""


DLIB_INSTALL = "pip install dlib-bin face-recognition-models"


def dlib_shape_predictor() -> Any:
    """dlib's 68-point shape predictor (Kazemi & Sullivan 2014), loaded from face-recognition-models' copy.

    Raises:
        MissingDependencyError: dlib or face-recognition-models is not installed (``DLIB_INSTALL``).
    """
    import importlib.util

    try:
        import dlib
    except ModuleNotFoundError as error:
        raise MissingDependencyError(f"dlib is not installed ({DLIB_INSTALL})") from error
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(f"face-recognition-models is not installed ({DLIB_INSTALL})")
    model_file = Path(spec.submodule_search_locations[0]) / "models" / "shape_predictor_68_face_landmarks.dat"
    if not model_file.is_file():
        raise MissingDependencyError(f"{model_file}: no such file; reinstall face-recognition-models")
    return dlib.shape_predictor(str(model_file))


def dlib_latency(
    input_size: int = 224, warmup: int = 10, repeats: int = 200, predictor: Any | None = None
) -> dict[str, Any]:
    """Batch-1 latency of dlib's 68-point shape predictor on a face crop.

    The crop is a SynthFace face resized to ``input_size``, the box its landmarks' box, the same input the FFLD
    latency is measured on. ``predictor`` is :func:`dlib_shape_predictor`'s (loaded here if not given).
    """
    import cv2
    import dlib

    from ffld.data.base import landmark_box
    from ffld.data.facecrop import crop_face
    from ffld.data.synthetic import SynthFaceConfig, render_sample

    predictor = dlib_shape_predictor() if predictor is None else predictor
    sample = render_sample(SynthFaceConfig(), "common", 0)
    crop, matrix = crop_face(sample.image, landmark_box(sample.landmarks), input_size)
    x0, y0, x1, y1 = (round(v) for v in cv2.transform(landmark_box(sample.landmarks).reshape(1, 2, 2), matrix).ravel())
    box = dlib.rectangle(x0, y0, x1, y1)
    seconds = median_seconds(lambda: predictor(crop, box), torch.device("cpu"), warmup, repeats)
    return {"model": "dlib shape_predictor_68_face_landmarks", "dlib": dlib.__version__, "latency_ms": 1000 * seconds}


def run_benchmarks(
    device: torch.device,
    batches: list[int],
    modes: list[str],
    precisions: list[str],
    train_batches: list[int],
    num_landmarks: int = 68,
    input_size: int = 224,
    with_dlib: bool = False,
    repeats: int = 50,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The inference grid (model × mode × precision × batch) for ``num_landmarks``, the training measurements (of a
    68-landmark 3-stage model) and, optionally, dlib's shape predictor measured in the same run.

    ``repeats`` timed runs follow ``repeats // 5`` warm-up runs for inference; training has the same warm-up and
    ``repeats // 5`` timed runs.
    """
    dlib_predictor = dlib_shape_predictor() if with_dlib else None  # a missing package fails before the long runs
    torch.manual_seed(0)
    models = {"baseline": FFLD(num_landmarks, stages=0), "ffld3": FFLD(num_landmarks, stages=3)}
    warmup = max(1, repeats // 5)
    results: dict[str, Any] = {
        "input_size": input_size,
        "num_landmarks": num_landmarks,
        "settings": run_settings(device),
        "parameters": {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()},
        "inference": [],
        "training": [],
    }
    for name, model in models.items():
        for mode in modes:
            for precision in precisions:
                for batch in batches:
                    row = {"model": name, "mode": mode, "precision": precision, "batch": batch}
                    row.update(
                        inference_speed(model, device, batch, mode, precision == "bf16", input_size, warmup, repeats)
                    )
                    results["inference"].append(row)
                    log(
                        f"{name:8s} {mode:9s} {precision:4s} batch {batch:5d}: {row['latency_ms']:9.3f} ms, "
                        f"{row['faces_per_s']:10.1f} faces/s"
                    )
        model.cpu()  # frees the device for the training figures
    for batch in train_batches:
        for precision in precisions:
            row = {"model": "ffld3", "landmarks": IBUG68.num_points, "precision": precision, "batch": batch}
            trained = FFLD(IBUG68.num_points, stages=3)
            row.update(
                training_speed(trained, device, batch, precision == "bf16", input_size, warmup, max(1, repeats // 5))
            )
            results["training"].append(row)
            memory = f", step peak {row['peak_step_memory_mb']:.0f} MB" if "peak_step_memory_mb" in row else ""
            log(
                f"training {precision:4s} batch {batch:5d}: {row['images_per_s_device_augmentation']:8.1f} images/s "
                f"(pre-made tensors {row['images_per_s_premade']:8.1f}, ratio {row['input_pipeline_ratio']:.2f})"
                + memory
            )
    if dlib_predictor is not None:
        results["dlib"] = dlib_latency(input_size, warmup, 4 * repeats, dlib_predictor)
        log(f"dlib shape predictor, batch 1: {results['dlib']['latency_ms']:.3f} ms")
    return results


__all__ = [
    "DLIB_INSTALL",
    "MODES",
    "MissingDependencyError",
    "dlib_latency",
    "dlib_shape_predictor",
    "inference_speed",
    "median_seconds",
    "memory_format",
    "run_benchmarks",
    "run_settings",
    "training_speed",
]
