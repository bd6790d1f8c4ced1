"""Parent side of the sandbox: start the child, give it the cells, collect its reports, enforce timeouts.

The child is started before the notebook is parsed, so `import torch` in the child overlaps the parent's work.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import cleanup
from .channel import CALLED, ChildReport
from .identity import sandbox_identity
from .output import HeadTail

ROOT = Path(__file__).resolve().parents[2]   # the folder holding the `grader` package
BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from grader.child.main import main; main(sys.argv[1], sys.argv[2])"
WATCHDOG_GRACE = 10.0   # a cell or call that ignores its interrupt this long (at most its own limit) is killed
MAX_SUBMISSION_BYTES = 256 * 1024 * 1024


@dataclass
class ChildRun:
    report: ChildReport
    output: str           # head and tail of what the notebook printed (instructor log only)
    seconds: float
    ending: str           # how the child ended, in words a student understands
    finished: bool        # it ran every cell and the grader's checks, and exited by itself
    isolation: str        # what was in force, for the instructor log
    leftovers: int        # processes the child left behind, all killed


class Sandbox:
    """One child process, from start to cleanup. Use `start()`, then `run(cells, probes)` or `abort()`."""

    def __init__(self, settings, submission: Path, python: str = sys.executable):
        self.settings = settings
        self.identity = sandbox_identity(settings.sandbox_user)
        self.workdir = Path(tempfile.mkdtemp(prefix="a0-sandbox-"))
        self.copy_notes = _copy_submission(Path(submission), self.workdir)
        if self.identity.uid is not None:
            for path in [self.workdir, *self.workdir.rglob("*")]:
                os.chown(path, self.identity.uid, self.identity.gid, follow_symlinks=False)
        self.python = python
        self.proc = None

    def start(self):
        cleanup.become_subreaper()
        read_fd, write_fd = os.pipe()
        config = {"channel_fd": write_fd, "workdir": str(self.workdir), "uid": self.identity.uid,
                  "gid": self.identity.gid, "limits": asdict(self.settings.limits),
                  "cell_timeout": self.settings.cell_timeout, "probe_timeout": self.settings.probe_timeout}
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [self.python, "-I", "-c", BOOT, str(ROOT), json.dumps(config)], cwd=self.workdir,
            env=_clean_env(self.workdir), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            pass_fds=(write_fd,), start_new_session=True)
        os.close(write_fd)
        self.output = HeadTail(self.settings.output_head_bytes, self.settings.output_tail_bytes)
        self.report = ChildReport()
        self.current = None   # (what is running, monotonic time it started), for the watchdog
        self.readers = [threading.Thread(target=self._read_output, daemon=True),
                        threading.Thread(target=self._read_channel, args=(read_fd,), daemon=True)]
        for reader in self.readers:
            reader.start()
        return self

    def run(self, cells, probes) -> ChildRun:
        spec = json.dumps({"cells": cells, "probes": probes}).encode()
        threading.Thread(target=self._feed, args=(spec,), daemon=True).start()
        ending = self._wait()
        return self._finish(ending)

    def abort(self):
        self._finish("not run")

    # -- the parent's side of the conversation
    def _feed(self, spec: bytes):
        try:
            self.proc.stdin.write(spec)
            self.proc.stdin.close()
        except OSError:
            pass   # the child is already gone; _wait says why

    def _read_output(self):
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            self.output.add(chunk)

    def _read_channel(self, fd: int):
        budget, pending = self.settings.channel_bytes, b""
        with os.fdopen(fd, "rb", buffering=0) as stream:
            for chunk in iter(lambda: stream.read(65536), b""):
                budget -= len(chunk)
                if budget < 0:
                    self.report.problems.append("The notebook's process sent more data than the grader accepts; "
                                                "the rest was ignored.")
                    for _ in iter(lambda: stream.read(65536), b""):
                        pass
                    return
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    self.report.add_line(line)
                    self._track_running()

    def _track_running(self):
        running = self.report.running
        if running is None:
            self.current = None
        elif self.current is None or self.current[0] != running:
            self.current = (running, time.monotonic())

    def _wait(self) -> str | None:
        """None when the child exited by itself, else why it was stopped."""
        deadline = self.started_at + self.settings.total_timeout
        while True:
            try:
                self.proc.wait(timeout=0.1)
                return None
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            running = self.current
            if now > deadline:
                where = f" ({_running_text(running[0])} was running)" if running else ""
                return (f"The notebook did not finish within the grader's time limit of "
                        f"{self.settings.total_timeout:.0f} s{where}, so it was stopped.")
            if running:
                limit = self.settings.cell_timeout if running[0][0] == "cell" else self.settings.probe_timeout
                if now - running[1] > limit + min(WATCHDOG_GRACE, limit):
                    what = _running_text(running[0])
                    return (f"{what[0].upper() + what[1:]} ran past its {limit:.0f} s limit and did "
                            "not stop when interrupted, so the notebook's process was stopped.")

    def _finish(self, stopped: str | None) -> ChildRun:
        if self.proc is not None:
            _kill_group(self.proc.pid)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass   # stuck in the kernel; _describe_exit says it did not end normally
        leftovers = cleanup.kill_leftovers(self.identity.uid)
        if self.proc is not None:
            for reader in self.readers:
                reader.join(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)
        seconds = time.monotonic() - self.started_at if self.proc else 0.0
        report = getattr(self, "report", ChildReport())
        ending = stopped or _describe_exit(self.proc.returncode if self.proc else None, report)
        isolation = report.isolation or {}
        return ChildRun(report, self.output.text() if self.proc else "", seconds, ending,
                        stopped is None and report.done and self.proc.returncode == 0,
                        f"{self.identity.description}; " + json.dumps(isolation), leftovers)


def _describe_exit(code, report: ChildReport) -> str:
    if report.done and code == 0:
        return "The notebook ran to the end."
    if report.isolation is None:   # no student code runs before the child reports it is ready
        return (f"The grader could not start the process that runs notebooks (exit code {code}); this is a problem "
                "of the autograder, not of your notebook. Please tell the course staff.")
    if report.running:
        where = "during " + _running_text(report.running)
    else:
        where = "after the last cell"
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        why = {"SIGSEGV": "crashed (segmentation fault)", "SIGXCPU": "used up its CPU time",
               "SIGKILL": "was killed (it may have run out of memory)", "SIGABRT": "aborted",
               "SIGXFSZ": "wrote a file larger than allowed"}.get(name, f"was stopped by {name}")
        return f"The notebook's process {why} {where}, before the grader could finish its checks."
    return (f"The notebook's process ended {where}, with exit code {code} (does it call `os._exit` or "
            "`os.kill`?), before the grader could finish its checks.")


def _running_text(running: tuple) -> str:
    kind, name = running
    return f"cell {name}" if kind == "cell" else f"the grader's call of {CALLED[name]}"


def _kill_group(pid: int):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _clean_env(workdir: Path) -> dict:
    threads = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": str(workdir),
            "LANG": "C.UTF-8", "MPLBACKEND": "Agg", **threads}


def _copy_submission(submission: Path, workdir: Path) -> list:
    """Regular files only: links are not followed (one could point at the grader's files)."""
    notes, total = [], 0
    root = submission if submission.is_dir() else submission.parent
    files = [p for p in root.rglob("*")] if submission.is_dir() else [submission]
    for path in sorted(files):
        if path.is_symlink():
            notes.append(f"`{path.relative_to(root)}` is a link; it was not copied.")
            continue
        if not path.is_file() or ".ipynb_checkpoints" in path.parts:
            continue
        total += path.stat().st_size
        if total > MAX_SUBMISSION_BYTES:
            notes.append("Your submission is larger than 256 MB; some files were not copied.")
            break
        target = workdir / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return notes
