"""Processes of a running server, read from ``/proc`` (Linux)."""

from __future__ import annotations

import os


def children(pid: int) -> list[int]:
    """The pids of the processes whose parent is ``pid``."""
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        if stat is not None and int(stat[1]) == pid:
            found.append(int(entry))
    return found


def in_session(sid: int) -> list[int]:
    """The pids of the live processes of session ``sid`` (zombies left out)."""
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        if stat is not None and stat[0] != "Z" and int(stat[3]) == sid:
            found.append(int(entry))
    return found


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name: state, ppid, process
    group, session, ..."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
