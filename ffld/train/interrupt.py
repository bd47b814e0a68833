"""Stopping a training run at a step boundary on Ctrl-C or SIGTERM, so that it checkpoints the steps it has taken.

A scheduler's preemption (SLURM, Kubernetes, ``torchrun`` passing its own SIGTERM on) and a reader's Ctrl-C both
arrive as a signal in the middle of some step. Rather than abandon the steps since the last checkpoint, the
training loop asks :class:`StopRequests` after every step whether a signal came, and if so checkpoints and stops.
A second Ctrl-C stops at once (``KeyboardInterrupt``), for a run that must end now. Further SIGTERMs do not: a
run can be sent both, as when Ctrl-C in a terminal reaches ``ffld experiment``'s (or ``torchrun``'s) training
processes and their parent, which then terminates them too.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequests:
    """Context manager: while it is active, SIGINT and SIGTERM set :attr:`requested` instead of interrupting, except
    a SIGINT after a request, which raises ``KeyboardInterrupt``.

    Signal handlers can only be installed from the main thread; elsewhere (a training run started from another
    thread) it installs none, and signals keep their handlers. The previous handlers are restored on exit.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> StopRequests:
        self.requested = False
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # None: installed outside Python
        self._previous.clear()


__all__ = ["SIGNALS", "StopRequests"]
