"""The folder where prometheus-client keeps each worker's values (multiprocess mode).

Kept apart from prometheus-client: the variable must be set before that library is
imported anywhere, for it picks its storage on import.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir() -> Path:
    """The folder of the workers' value files, made (or emptied) before they start.

    An operator's ``PROMETHEUS_MULTIPROC_DIR`` is used and emptied; otherwise a new
    temporary folder, which ``remove_multiprocess_dir`` deletes at exit.
    """
    given = os.environ.get(MULTIPROC_VARIABLE)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix="threadkit-metrics-"))
        os.environ[MULTIPROC_VARIABLE] = str(folder)
    return folder


def remove_multiprocess_dir(folder: Path, made_here: bool) -> None:
    if made_here:
        shutil.rmtree(folder, ignore_errors=True)
