"""Whether a process's threads are stopped, read from /proc: the parent waits on it before it sends a probe's inputs,
and the prober (child/apart.py) before it probes. What it calls is bound at import, before any student code runs."""

import os
import time

_listdir, _sleep, _monotonic, _open = os.listdir, time.sleep, time.monotonic, open


def stopped(pid: int, seconds: float) -> bool:
    """Every thread of `pid` is stopped (or gone), within `seconds`; True too where /proc cannot tell."""
    end = _monotonic() + seconds
    while True:
        try:
            states = [_state(pid, task) for task in _listdir(f"/proc/{pid}/task")]
        except OSError:
            return True  # gone, or no /proc (macOS): nothing to look at
        if all(state in "TtZX" for state in states):
            return True
        if _monotonic() > end:
            return False
        _sleep(0.001)


def _state(pid: int, task: str) -> str:
    try:
        with _open(f"/proc/{pid}/task/{task}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return "X"
