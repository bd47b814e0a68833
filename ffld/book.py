"""The one set-up call every chapter of the book starts with (d2l-style).

``rng = ffld.book.setup()`` makes a chapter seeded, deterministic and light on CPUs, and gives its figures a
common look. Nothing it does is specific to a chapter, so a reader can also call it from their own notebook.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from ffld.tables import markdown

SEED = 0
"""Seed every chapter starts from."""

THREADS = 2
"""Torch threads used by the book; CI runs it on 2 cores."""

FIGURE_STYLE = {
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "figure.figsize": (9.0, 3.2),
    "font.size": 9,
    "axes.titlesize": 9,
    "image.interpolation": "nearest",
    "image.origin": "upper",
}
"""Matplotlib settings shared by every figure of the book (pixel-exact images, compact panels)."""


def setup(seed: int = SEED, threads: int = THREADS) -> np.random.Generator:
    """Seed Python, NumPy and torch, make torch deterministic on ``threads`` threads, and style figures.

    On the CPU, where the book runs, every operation ffld uses is deterministic. On a GPU some are not
    (``grid_sample``'s backward, used by the crops, and adaptive pooling's accumulate with atomic adds): torch warns
    about them instead of refusing to run, so a chapter still trains on a reader's GPU, not bit-reproducibly.
    In IPython it also renders figures as PNG (the book's stored outputs are PNG images).

    Args:
        seed: seed for ``random``, ``numpy.random`` and ``torch``.
        threads: number of intra-op torch threads.

    Returns:
        A ``numpy.random.Generator`` seeded with ``seed`` for the chapter's own draws.
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - also seed legacy global state for code that uses it
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, read when CUDA starts
    torch.use_deterministic_algorithms(True, warn_only=True)

    import matplotlib as mpl

    mpl.rcParams.update(FIGURE_STYLE)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the book's requirements
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    return np.random.default_rng(seed)


def toy_face(size: int = 224) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """A drawn face (ellipses for the face, eyes and mouth) with 9 landmarks on its boundaries.

    A stand-in input for chapters that need an image but no trained model (the SynthFace data set replaces it
    where a trained model is needed).

    Args:
        size: side of the square image.

    Returns:
        ``image``: (3, size, size) float64 RGB in [0, 1]; ``landmarks``: (9, 2) float64 ``(x, y)`` image pixels on
        the drawn boundaries; ``names``: the landmarks' names.
    """
    scale = size / 224
    axis = torch.arange(size, dtype=torch.float64)
    y, x = torch.meshgrid(axis, axis, indexing="ij")

    def ellipse(cx: float, cy: float, rx: float, ry: float) -> torch.Tensor:
        return ((x - cx * scale) / (rx * scale)) ** 2 + ((y - cy * scale) / (ry * scale)) ** 2 <= 1

    background, skin = torch.tensor([0.25, 0.3, 0.35]), torch.tensor([0.9, 0.72, 0.6])
    dark, lips = torch.tensor([0.15, 0.1, 0.1]), torch.tensor([0.7, 0.25, 0.3])
    image = background.to(torch.float64)[:, None, None].expand(3, size, size).clone()
    for mask, colour in (
        (ellipse(112, 116, 70, 92), skin),
        (ellipse(84, 96, 15, 7), dark),
        (ellipse(140, 96, 15, 7), dark),
        (ellipse(112, 160, 26, 9), lips),
    ):
        image[:, mask] = colour.to(torch.float64)[:, None]
    points = {
        "right cheek": (42, 116),
        "chin": (112, 208),
        "left cheek": (182, 116),
        "right eye outer": (69, 96),
        "right eye inner": (99, 96),
        "left eye inner": (125, 96),
        "left eye outer": (155, 96),
        "mouth right": (86, 160),
        "mouth left": (138, 160),
    }
    landmarks = torch.tensor(list(points.values()), dtype=torch.float64) * scale
    return image, landmarks, list(points)


LIBRARY_MAP: dict[str, tuple[str, str]] = {
    "ffld.models.FFLD": ("Fig. 1, Sect. 3", "the whole model: baseline + refinement stages"),
    "ffld.models.ResNetBackbone": ("Sect. 3.1, 6.6", "25%-width ResNet18/50 baseline and its feature levels"),
    "ffld.models.RefinementStage": ("Fig. 4", "crop, 1×1 channel selection, CropNet"),
    "ffld.models.CropNet": ("Sect. 3.2, Table 7", "the correction network"),
    "ffld.crop.crop_patches": ("Eq. 5–7", "bilinear crops (fast path, grid_sample)"),
    "ffld.crop.crop_patches_explicit": ("Eq. 9, 11–14", "the crop with its backward written out"),
    "ffld.geometry.image_to_feature": ("Sect. 3.2", "image pixels ↔ feature-map pixels"),
    "ffld.losses.iod_l2_loss": ("Eq. 1", "baseline loss"),
    "ffld.losses.l2_loss": ("Sect. 4.2", "stage-1 loss"),
    "ffld.losses.l1_loss": ("Sect. 4.2", "stage-2 loss"),
    "ffld.losses.align_loss": ("Eq. 2, Sect. 4.3", "stage-3 loss"),
    "ffld.losses.wing_loss": ("Sect. 2", "Wing loss (Feng et al., 2018), for comparison"),
    "ffld.heatmaps.heatmap_l2_loss": ("Sect. 1, Fig. 6 (d)", "the HRM loss, for comparison"),
    "ffld.heatmaps.quantisation_error": ("Sect. 1", "arg-max quantisation of HRMs"),
    "ffld.featuremaps.boundary_table": ("Sect. 1, Fig. 2", "how much each feature level responds across a boundary"),
    "ffld.landscapes.landscape": ("Fig. 6", "loss landscapes on a synthetic contour"),
    "ffld.plotting.landscape_figure": ("Fig. 6", "the landscapes drawn"),
    "ffld.plotting.crop_figure": ("Fig. 8", "a bilinear crop drawn"),
    "ffld.gradients.first_stage_gradients": ("Eq. 18, Fig. 7", "the three gradients reaching a feature map"),
    "ffld.plotting.gradient_figure": ("Fig. 7", "the three gradients drawn"),
    "ffld.anatomy.selected_patches": ("Fig. 5", "the patches after channel selection"),
    "ffld.misalignment.misplaced_gain": ("Fig. 3", "how much of a misplaced landmark a stage takes back"),
    "ffld.anatomy.table7_parameters": ("Table 7, Sect. 6.5", "a CropNet's parameters in closed form"),
    "ffld.train.MultiLoss": ("Sect. 4", "one loss per prediction S0..SK"),
    "ffld.train.load_config": ("Sect. 6.6", "the training recipe as a YAML config"),
    "ffld.train.train": ("Sect. 6.6", "the trainer: CPU, GPU or several (torchrun), resumable"),
    "ffld.data.transforms.LandmarkAugment": ("Sect. 6.6", "scale, translation, rotation (and flip) on the device"),
    "ffld.data.synthetic.SynthFace": ("–", "the embedded synthetic benchmark, in 300W's layout"),
    "ffld.data.W300": ("Sect. 6.1, Table 1", "300W"),
    "ffld.data.AFLW19": ("Sect. 6.1, Table 2", "AFLW-19"),
    "ffld.data.COFW": ("Sect. 6.1, Table 3", "COFW"),
    "ffld.data.VW300": ("Sect. 6.1, Table 4", "300VW"),
    "ffld.metrics.nme": ("Sect. 6.2", "normalised mean error"),
    "ffld.metrics.auc_fr": ("Fig. 9 (CED)", "area under the CED and failure rate (ffld's addition)"),
    "ffld.evaluate.evaluate_checkpoint": ("Sect. 6.3", "every stage's predictions and errors on a benchmark"),
    "ffld.analysis.boundary_errors": ("Sect. 4.3, Fig. 10", "errors split along and across the boundary"),
    "ffld.experiments.Experiment": ("Tables 5, 6", "an ablation over seeds, and its tables"),
    "ffld.footprint.flop_counts": ("Sect. 6.5", "operations counted (with parameters and memory beside it)"),
    "ffld.bench.run_benchmarks": ("Sect. 6.5", "speed and memory measured"),
    "ffld.book.setup": ("–", "the set-up call of every chapter"),
}
"""Which object of the library implements which part of the paper (shown in chapter 0, checked by the tests)."""


def library_map_markdown() -> str:
    """:data:`LIBRARY_MAP` as a Markdown table, after checking that every object it names exists."""
    import importlib

    rows = []
    for path, (where, what) in LIBRARY_MAP.items():
        module, name = path.rsplit(".", 1)
        getattr(importlib.import_module(module), name)  # AttributeError if the map is stale
        rows.append([f"`{path}`", where, what])
    return markdown(["object", "paper", "what"], rows)


__all__ = [
    "FIGURE_STYLE",
    "LIBRARY_MAP",
    "SEED",
    "THREADS",
    "library_map_markdown",
    "setup",
    "toy_face",
]
