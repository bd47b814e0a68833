"""A rendering worker process: ``python -m ffld.data.synthetic.worker JOB RECORDS`` reads the JSON file JOB (the
config, the output folder and a list of (split, index) images), writes the images and ``.pts`` files, and saves
their metadata records as JSON in the file RECORDS.

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


def main(job_file: str, records_file: str) -> None:
    """Run the job in ``job_file``, saving the records in ``records_file`` (see the module docstring)."""
    cv2.setNumThreads(1)  # one process per core already
    job = json.loads(Path(job_file).read_text())
    config = SynthFaceConfig.from_dict(job["config"])
    tasks = [(split, int(index)) for split, index in job["tasks"]]
    Path(records_file).write_text(json.dumps(write_images(config, Path(job["folder"]), tasks)))


if __name__ == "__main__":
    main(*sys.argv[1:])
