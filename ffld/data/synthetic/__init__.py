"""SynthFace: an embedded synthetic face benchmark whose 68 landmarks lie on visible boundaries.

Faces are rendered from a small parametric 3-D model (:mod:`~ffld.data.synthetic.facemodel`) under random pose,
expression, lighting, backgrounds, occluders and degradations, deterministically from a seed, and written in the
300W layout. Typical use::

    from ffld.data.synthetic import SynthFace, ensure_synthface

    root = ensure_synthface()            # generated once, then cached under data/cache/synthface/<hash>/
    train = SynthFace(root, "train")

:class:`SynthFace` is imported lazily, so that generating (e.g. in worker processes) does not import torch.
"""

from typing import Any

from ffld.data.synthetic.config import SPLITS, SplitConfig, SynthFaceConfig
from ffld.data.synthetic.generate import Sample, cache_root, ensure_synthface, generate_synthface, render_sample


def __getattr__(name: str) -> Any:
    if name == "SynthFace":
        from ffld.data.synthetic.dataset import SynthFace

        return SynthFace
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SPLITS",
    "Sample",
    "SplitConfig",
    "SynthFace",
    "SynthFaceConfig",
    "cache_root",
    "ensure_synthface",
    "generate_synthface",
    "render_sample",
]
