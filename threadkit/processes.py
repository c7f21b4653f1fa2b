"""Helper processes: a fresh interpreter running one module's ``main``, a pipe to it.

Used by imports (the SQLite store's inserting helper, the parsing workers). Not
``multiprocessing``: forking this process would copy its threads' state, and its
spawn start method would first import the caller's main module (the whole CLI) in
every child; a child started here imports only the module it runs.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from multiprocessing.connection import Connection, Pipe

# The child gets this process's sys.path (as multiprocessing's spawn would), so it
# imports the same threadkit however this one was started.
_BOOT = (
    "import sys, json; sys.path[:] = json.loads(sys.argv[1]);"
    " from importlib import import_module;"
    " import_module(sys.argv[2]).main(sys.argv[3:])"
)


class Helper:
    """A running child: ``module.main(argv)`` is called there with ``argv`` = the given
    arguments followed by the file descriptor of its end of ``pipe``."""

    def __init__(self, module: str, args: list[str]) -> None:
        self.pipe, theirs = Pipe()
        fd = theirs.fileno()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, json.dumps(sys.path), module, *args, str(fd)],
            pass_fds=[fd],
        )
        theirs.close()

    def stop(self, goodbye: object = None, timeout: float = 30) -> None:
        """Wait for the child to end (after sending ``goodbye``, if it still runs and one
        is given), killing it after ``timeout`` seconds; then close the pipe."""
        if goodbye is not None and self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.pipe.send(goodbye)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.pipe.close()


def child_pipe(fd: str) -> Connection:
    """The child's end of the pipe, from the last argument it was given."""
    return Connection(int(fd))
