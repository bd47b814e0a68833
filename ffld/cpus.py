"""How many CPU cores this process may use: its affinity mask where the platform has one (a container, ``taskset``
or a batch scheduler narrows it), else every core."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """The number of CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


__all__ = ["usable_cpus"]
