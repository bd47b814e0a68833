"""The one set-up call every chapter of the book starts with (d2l-style).

``rng = ffld.book.setup()`` makes a chapter seeded, deterministic and light on CPUs, and gives its figures a
common look. Nothing it does is specific to a chapter, so a reader can also call it from their own notebook.
"""

from __future__ import annotations

import random

import numpy as np
import torch

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
    torch.use_deterministic_algorithms(True)

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


__all__ = ["FIGURE_STYLE", "SEED", "THREADS", "setup"]
