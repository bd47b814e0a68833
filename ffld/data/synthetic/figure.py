"""A labelled grid of SynthFace samples with their landmarks coloured by facial part (for the book)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ffld.data.synthetic.config import SynthFaceConfig
from ffld.data.synthetic.generate import render_sample
from ffld.data.synthetic.parts import GROUP_COLOURS, GROUPS


def sample_grid(out: str | os.PathLike, config: SynthFaceConfig | None = None, rows: int = 4, columns: int = 6) -> Path:
    """Save a ``rows`` × ``columns`` grid of samples to ``out`` (PNG).

    The first half of the panels shows training images, then a quarter "common" and a quarter "challenge" test
    images (the first images of each split of ``config``, default ``SynthFaceConfig()``). Landmarks are
    coloured by part (jaw, brows, nose, eyes, lips); occluded ones are drawn as crosses. Each panel is titled
    with its split, index and pose.

    Returns:
        ``out``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config = config or SynthFaceConfig()
    total = rows * columns
    common = challenge = total // 4
    panels = [("train", i) for i in range(total - common - challenge)]
    panels += [("common", i) for i in range(common)] + [("challenge", i) for i in range(challenge)]
    figure, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.45 * rows), squeeze=False)
    for axis, (split, index) in zip(axes.ravel(), panels, strict=True):
        sample = render_sample(config, split, index)
        axis.imshow(sample.image, interpolation="bilinear")
        hidden = np.asarray(sample.record["visibility"]) != 0
        for name, members in GROUPS.items():
            points = sample.landmarks[list(members)]
            shown, occluded = points[~hidden[list(members)]], points[hidden[list(members)]]
            axis.scatter(*shown.T, s=5, color=GROUP_COLOURS[name], linewidths=0)
            axis.scatter(*occluded.T, s=9, color=GROUP_COLOURS[name], marker="x", linewidths=0.8)
        yaw, pitch, roll = sample.record["pose"]
        axis.set_title(f"{split} #{index}\nyaw {yaw:+.0f}° pitch {pitch:+.0f}° roll {roll:+.0f}°", fontsize=7)
        axis.set_axis_off()
    figure.tight_layout(pad=0.3)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


__all__ = ["sample_grid"]
