"""Workers end with the ``threadkit serve`` process that started them.

A worker whose parent is killed with SIGKILL is not told: it goes on serving with
pid 1 as parent, holding the port and the database. On Linux each worker asks the
kernel for a SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), which then takes
the worker's graceful shutdown path. ``run`` records its pid in ``SUPERVISOR_VARIABLE``
before starting workers in processes of their own (granian always, uvicorn with more
than one worker); a worker that finds another parent than that one was orphaned
before it asked, and exits. Elsewhere than Linux, and without the variable, nothing
is done.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: the pid of the process supervising the workers, set by it before they start
SUPERVISOR_VARIABLE = "THREADKIT_SUPERVISOR_PID"
_PR_SET_PDEATHSIG = 1

log = logging.getLogger("threadkit.server")


def supervise_workers(workers_in_processes: bool) -> None:
    """In the supervising process, before its workers start: record its pid for them
    (or clear one inherited from elsewhere when the app is served in this process)."""
    if workers_in_processes:
        os.environ[SUPERVISOR_VARIABLE] = str(os.getpid())
    else:
        os.environ.pop(SUPERVISOR_VARIABLE, None)


@contextmanager
def ending_with_parent() -> Iterator[None]:
    """Around a worker's start-up (building its app): from here on, the worker gets a
    SIGTERM when its parent dies, and it exits now if the parent is already gone.

    Until the block ends, SIGTERM keeps its default action (the worker dies): a forked
    granian worker has inherited its parent's handler, which would swallow the signal
    before granian installs the worker's own, and nothing is served yet. The handler
    found is put back at the end (uvicorn's, which starts its graceful shutdown)."""
    supervisor = _supervisor()
    if supervisor is None:
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _ask_for_sigterm_on_parent_death()
    if os.getppid() != supervisor:
        log.warning("the serve process %d is gone: worker %d exits", supervisor, os.getpid())
        sys.exit(0)
    yield
    signal.signal(signal.SIGTERM, previous)


def _supervisor() -> int | None:
    """The parent to follow, if this process is a worker process under one on Linux."""
    recorded = os.environ.get(SUPERVISOR_VARIABLE, "")
    if not sys.platform.startswith("linux") or not recorded.isdigit():
        return None
    # Workers running as threads of the supervisor (free-threaded granian) have none.
    return None if int(recorded) == os.getpid() else int(recorded)


def _ask_for_sigterm_on_parent_death() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGTERM)) != 0:
        error = ctypes.get_errno()
        log.warning("prctl(PR_SET_PDEATHSIG) failed: %s", os.strerror(error))
