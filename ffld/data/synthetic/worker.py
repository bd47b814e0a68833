"""A rendering worker process: ``python -m ffld.data.synthetic.worker`` reads a JSON job from stdin (the config,
the output folder and a list of (split, index) images), writes the images and ``.pts`` files, and prints their
metadata records as JSON on stdout.

:func:`ffld.data.synthetic.generate.generate_synthface` starts these as plain subprocesses rather than through
``multiprocessing``: forking a process whose OpenCV thread pool is running can deadlock, and spawning re-imports
the caller's main script (which then needs an ``if __name__ == "__main__":`` guard).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2

from ffld.data.synthetic.config import SynthFaceConfig
from ffld.data.synthetic.generate import write_images


def main() -> None:
    """Run one job from stdin (see the module docstring)."""
    cv2.setNumThreads(1)  # one process per core already
    job = json.load(sys.stdin)
    config = SynthFaceConfig.from_dict(job["config"])
    tasks = [(split, int(index)) for split, index in job["tasks"]]
    json.dump(write_images(config, Path(job["folder"]), tasks), sys.stdout)


if __name__ == "__main__":
    main()
