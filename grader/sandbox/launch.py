"""Parent side of the sandbox: start the child, give it its request, collect its reports, enforce the timeouts.

`with Child(...) as child: run = child.run(request)`: leaving the block, however it is left, kills the child's
process group and whatever it left behind, and joins the readers.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import cleanup
from .channel import TOTAL_BYTES, ChildReport
from .output import HeadTail

ROOT = Path(__file__).resolve().parents[2]  # the folder holding the `grader` package
BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from grader.child.main import main; main(sys.argv[1], sys.argv[2])"
WATCHDOG_GRACE = 10.0  # a cell or call that ignores its interrupt this long (at most its own limit) is killed
READ_TIMEOUT = 60.0  # reading and parsing the notebook, in the child


@dataclass
class ChildRun:
    report: ChildReport
    output: str  # head and tail of what the notebook printed (instructor log only)
    seconds: float
    stopped: str | None  # None: the child ended by itself; else "run_timeout" or "watchdog"
    running: tuple | None  # what was running when it ended or was stopped
    exit_code: int | None
    isolation: str  # what was in force, for the instructor log
    leftovers: int  # processes the child left behind, all killed

    @property
    def finished(self) -> bool:
        """It ran every cell and the grader's probes, and exited by itself."""
        return self.stopped is None and self.report.done and self.exit_code == 0


class Child:
    def __init__(
        self,
        settings,
        identity,
        workdir: Path,
        python: str = sys.executable,
        hide=(),
        ta_files=False,
        handout_code: str | None = None,
        skip_cells=(),
    ) -> None:
        self.settings, self.identity, self.workdir = settings, identity, workdir
        # the venv's bin folder by its real path (a checkout's .venv may be a link from a folder the sandbox user
        # cannot enter); not the interpreter's own real path, which would leave the venv
        self.python = os.path.join(os.path.realpath(os.path.dirname(python)), os.path.basename(python))
        self.config = {
            "workdir": str(workdir),
            "uid": identity.uid,
            "gid": identity.gid,
            "limits": asdict(settings.limits),
            "cell_timeout": settings.cell_timeout,
            "probe_timeout": settings.probe_timeout,
            "read_timeout": READ_TIMEOUT,
            "hide": [str(p) for p in hide],
            "ta_files": ta_files,
            "handout_code": handout_code,
            "skip_cells": sorted(skip_cells),  # cells that caught their interrupt in an earlier run (grade.py)
        }
        self.proc = None
        self.readers = []
        self.report = ChildReport()
        self.output = HeadTail(settings.output_head_bytes, settings.output_tail_bytes)
        self.current = None  # (what is running, monotonic time it started), for the watchdog
        self.stopped = None
        self.stopped_once = False
        self.leftovers = 0

    def __enter__(self):
        cleanup.become_subreaper()
        read_fd, write_fd = os.pipe()
        self.started_at = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                [self.python, "-I", "-c", BOOT, str(ROOT), json.dumps({**self.config, "channel_fd": write_fd})],
                cwd=self.workdir,
                env=_clean_env(self.workdir),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
                start_new_session=True,
            )
        finally:
            os.close(write_fd)
        self.readers = [
            threading.Thread(target=self._read_output, daemon=True),
            threading.Thread(target=self._read_channel, args=(read_fd,), daemon=True),
        ]
        for reader in self.readers:
            reader.start()
        return self

    def run(self, request: dict) -> ChildRun:
        threading.Thread(target=self._feed, args=(json.dumps(request).encode(),), daemon=True).start()
        self.stopped = self._wait()
        self._stop()
        return ChildRun(
            self.report,
            self.output.text(),
            time.monotonic() - self.started_at,
            self.stopped,
            self.current[0] if self.current else self.report.running,
            self.proc.returncode,
            _isolation(self.identity, self.report),
            self.leftovers,
        )

    def __exit__(self, *exc_info):
        self._stop()
        return False

    def _stop(self) -> None:
        """Once: after `run`, leaving the block has nothing more to stop (and must not signal a reused id)."""
        if self.proc is None or self.stopped_once:
            return
        self.stopped_once = True
        _kill_group(self.proc.pid)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass  # stuck in the kernel; the run says it did not end normally
        self.leftovers += cleanup.kill_leftovers(self.identity.uid)
        for reader in self.readers:
            reader.join(timeout=5)

    # -- the parent's side of the conversation
    def _feed(self, request: bytes) -> None:
        try:
            self.proc.stdin.write(request)
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass  # the child is already gone; _wait says why

    def _read_output(self) -> None:
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            self.output.add(chunk)

    def _read_channel(self, fd: int) -> None:
        budget, pending = TOTAL_BYTES, b""
        with os.fdopen(fd, "rb", buffering=0) as stream:
            for chunk in iter(lambda: stream.read(65536), b""):
                budget -= len(chunk)
                if budget < 0:
                    self.report.problems.append(("too_much", "any"))
                    for _ in iter(lambda: stream.read(65536), b""):
                        pass
                    return
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    self.report.add_line(line)
                    self._track_running()

    def _track_running(self) -> None:
        running = self.report.running
        if running is None:
            self.current = None
        elif self.current is None or self.current[0] != running:
            self.current = (running, time.monotonic())

    def _wait(self) -> str | None:
        """None when the child exited by itself, else why it was stopped."""
        deadline = self.started_at + self.settings.total_timeout
        limits = {"cell": self.settings.cell_timeout, "probe": self.settings.probe_timeout, "read": READ_TIMEOUT}
        while True:
            try:
                self.proc.wait(timeout=0.1)
                return None
            except subprocess.TimeoutExpired:
                pass
            now, running = time.monotonic(), self.current
            if now > deadline:
                return "run_timeout"
            if running:
                limit = limits[running[0][0]]
                if now - running[1] > limit + min(WATCHDOG_GRACE, limit):
                    return "watchdog"


def _isolation(identity, report: ChildReport) -> str:
    """For the instructor log: the child's own account, sent before any student code ran, and the parent's."""
    return f"{identity.description}; " + json.dumps(report.isolation or {"ready": False}, sort_keys=True)[:2000]


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _clean_env(workdir: Path) -> dict:
    threads = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "IPYTHONDIR": str(workdir / ".ipython"),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        **threads,
    }
