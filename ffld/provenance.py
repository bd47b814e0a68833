"""Where a result came from: the command, commit, device, library versions, date and working directory, for every
result file."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision

import ffld
from ffld.files import dump_json

REPOSITORY = Path(__file__).resolve().parent.parent


COMMIT_VARIABLE = "FFLD_COMMIT"
"""Names the commit of a tree that is a copy without ``.git`` (as on a device machine): recorded as given, marked."""


def git_commit() -> str:
    """The checkout's commit, with "+dirty" when tracked files differ from it. Outside a git checkout: the value of
    ``$FFLD_COMMIT`` followed by " (FFLD_COMMIT)", since it cannot be checked against the files, or "unknown"."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPOSITORY, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        given = os.environ.get(COMMIT_VARIABLE, "").strip()
        return f"{given} ({COMMIT_VARIABLE})" if given else "unknown"
    return commit + ("+dirty" if dirty else "")


def device_description(device: torch.device | str | None = None) -> str:
    """The GPU's name, or the CPU's model and the threads PyTorch uses."""
    device = torch.device(device) if device is not None else None
    if device is not None and device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {model}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def current_command() -> list[str]:
    """The command line of this process as it was typed: the program's name, or ``python -m <module>`` when the
    process runs a module's ``__main__`` (``sys.argv[0]`` is then the path of ``__main__.py``)."""
    program = Path(sys.argv[0])
    main = sys.modules.get("__main__")
    module = getattr(getattr(main, "__spec__", None), "name", None)
    if program.name == "__main__.py" and module:
        return ["python", "-m", module.removesuffix(".__main__"), *sys.argv[1:]]
    return [program.name, *sys.argv[1:]]


def provenance(device: torch.device | str | None = None, command: list[str] | None = None) -> dict[str, Any]:
    """A record of how a result was produced."""
    return {
        "command": " ".join(command if command is not None else current_command()),
        "commit": git_commit(),
        "device": device_description(device),
        "versions": {
            "python": platform.python_version(),
            # plain str: torch.__version__ is a TorchVersion, which checkpoints loaded with weights_only refuse
            "torch": str(torch.__version__),
            "torchvision": str(torchvision.__version__),
            "numpy": str(np.__version__),
            "ffld": str(ffld.__version__),
        },
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cwd": os.getcwd(),  # what the command's relative paths are relative to
    }


def write_json(path: str | os.PathLike, results: dict[str, Any], device: torch.device | str | None = None) -> Path:
    """Write ``results`` with a ``provenance`` entry as JSON (atomically); returns the path."""
    return dump_json(path, {"provenance": provenance(device), **results})


__all__ = ["COMMIT_VARIABLE", "current_command", "device_description", "git_commit", "provenance", "write_json"]
