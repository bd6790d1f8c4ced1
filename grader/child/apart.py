"""The probes run apart from the notebook's threads: after the last cell, the runner forks a prober (fork copies only
the calling thread), the prober stops the runner (SIGSTOP stops every thread of it), and a worker forked by the
prober reads the probes' inputs, calls the student's objects and reports on the same channel. No thread a cell
started can read the inputs or race the calls; the parent sends the inputs only once it has seen every thread of
the runner stopped (grader/sandbox/launch.py). Confinement (uid, seccomp, Landlock, rlimits) is inherited.

The prober never runs student code: when the worker ends, however it ends, the prober resumes the runner and ends
as the worker ended; the runner then ends the same way, so the parent reads the exit status it always read.
"""

import ctypes
import os
import signal
import time
import warnings
from typing import Any

from ..procfs import stopped
from . import errors

PR_SET_DUMPABLE = 4
STOP_SECONDS = 5.0
SWEEP_ROUNDS = 50
# kept before student code can replace them
_fork, _waitpid, _kill, _exit, _getpid, _getppid = os.fork, os.waitpid, os.kill, os._exit, os.getpid, os.getppid
_listdir, _signal, _sleep = os.listdir, signal.signal, time.sleep
_catch_warnings, _simplefilter = warnings.catch_warnings, warnings.simplefilter
_prctl: Any  # None without a libc
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None


_spared: set = set()  # the runner and the prober, once the probes run apart


def probe_apart(reporter, work) -> None:
    """Run `work()` (it reports and ends the process) in a worker apart from the notebook's threads; this process
    ends as the worker did. Where no prober can be forked (the process limit is held), `work()` runs here (and the
    parent, which sees the runner never stopped, sends it no inputs)."""
    runner = _getpid()
    for signum in (signal.SIGCHLD, signal.SIGCONT):
        _signal(signum, signal.SIG_DFL)
    pid = _try_fork()
    if pid is None:  # the notebook's processes hold the process limit
        _sweep(lambda pid, uid, parents: _descends(pid, runner, parents))
        _reap()  # a process killed counts against the limit until it is waited for
        pid = _try_fork()
    if pid is None:
        return work()
    if pid == 0:
        _prober(runner, reporter, work)
    _end_as(_wait(pid))


def stop_background() -> None:
    """What the cells left running (a fork bomb, a sleeper) would only compete with the grader's checks: every other
    process of the sandbox user, but the runner and the prober. Never called without the user switch."""
    if not _spared:
        try:
            _kill(-1, signal.SIGKILL)  # as the sandbox user: all its processes but this one
        except OSError:
            pass  # there were none
        return
    uid = os.getuid()
    _sweep(lambda pid, owner, parents: owner == uid and pid not in _spared)


def _prober(runner: int, reporter, work) -> None:
    status = 1 << 8
    try:
        if _prctl is not None:
            _prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # the runner's threads, once resumed, cannot read this memory
        _kill(runner, signal.SIGSTOP)
        stopped(runner, STOP_SECONDS)
        pid = _try_fork()
        if pid is None:  # a slot of the process limit for the worker, from the notebook's processes
            prober = _getpid()
            _sweep(lambda pid, uid, parents: pid != prober and _descends(pid, runner, parents))
            pid = _try_fork()
        if pid == 0:
            _worker(reporter, work, {runner, _getppid()})
        if pid:  # else no worker: the runner ends with status 1, and the parent says it could not check
            status = _wait(pid)
    finally:
        try:
            _kill(runner, signal.SIGCONT)
        finally:
            _end_as(status)


def _worker(reporter, work, spared: set) -> None:
    try:
        _run_here(reporter, work, spared)
    finally:
        _exit(1)


def _run_here(reporter, work, spared: set) -> int:
    """In a process forked from the runner's main thread: it speaks for the runner now."""
    errors.own_process()
    reporter.pid = _getpid()
    _spared.update(spared | {_getpid()})
    import torch

    torch.set_num_threads(1)  # the runner's OpenMP threads were not copied: a larger team would wait for them
    work()
    return 0


def _sweep(target) -> None:
    """Every process `target(pid, uid, parents)` names is stopped (a stopped process forks no more, and its children
    stay where they are), round after round until all are, then killed (bounded)."""
    for signum in (signal.SIGSTOP, signal.SIGKILL):
        for _ in range(SWEEP_ROUNDS):
            processes = _processes()
            parents = {pid: ppid for pid, ppid, _, _ in processes}
            found = [
                pid
                for pid, _, uid, state in processes
                if target(pid, uid, parents) and (signum == signal.SIGKILL or state != b"T")
            ]
            if not found:
                break
            for pid in found:
                try:
                    _kill(pid, signum)
                except OSError:
                    pass
            _sleep(0.002)


def _processes():
    """(pid, ppid, uid, state) of every live process this one can see in /proc."""
    try:
        entries = [entry for entry in _listdir("/proc") if entry.isdigit()]
    except OSError:
        return []
    found = []
    for entry in entries:
        try:
            with open(f"/proc/{entry}/status", "rb") as f:
                fields = dict(line.split(b":", 1) for line in f if b":" in line)
            state = fields[b"State"].split()[0]
            if state not in (b"Z", b"X"):
                found.append((int(entry), int(fields[b"PPid"]), int(fields[b"Uid"].split()[0]), state))
        except (OSError, KeyError, ValueError, IndexError):
            continue
    return found


def _descends(pid: int, ancestor: int, parents: dict) -> bool:
    for _ in range(1000):
        pid = parents.get(pid, 0)
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
    return False


def _reap() -> None:
    for _ in range(100_000):
        try:
            if _waitpid(-1, os.WNOHANG)[0] <= 0:
                return
        except ChildProcessError:
            return


def _try_fork() -> int | None:
    try:
        with _catch_warnings():
            _simplefilter("ignore")  # Python 3.12+ warns of fork in a process with threads: that is the point
            return _fork()
    except OSError:
        return None


def _wait(pid: int) -> int:
    for _ in range(1_000_000):
        try:
            return _waitpid(pid, 0)[1]
        except ChildProcessError:
            return 1 << 8
        except BaseException:  # noqa: BLE001  -- a notebook's signal handler may raise here; wait on
            continue
    return 1 << 8


def _end_as(status: int) -> None:
    """End with the wait status `status`: the same exit code, or killed by the same signal."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        try:
            _signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL has no handler to reset
        _kill(_getpid(), signum)
        _kill(_getpid(), signal.SIGKILL)
    _exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
