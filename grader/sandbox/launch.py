"""Parent side of the sandbox: start the children, give them their requests, collect their reports, enforce the
timeouts.

Two children, confined alike: a *reader* that reads the notebook and never runs its code (its records are as
trustworthy as the notebook's text), and a *runner* that runs the cells and the grader's probes (its records are
trusted only for numbers the parent re-computes). `with Child(..., role="reader") as reader, Child(...) as runner:
reading, run = run_pair(reader, runner, request)`: leaving the blocks, however they are left, kills the children's
process groups and whatever they left behind, and joins the readers. A child's configuration comes on its stdin,
never in its argv or environment; the probes' inputs reach the runner only once its last cell has ended.
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
from typing import Any

from ..procfs import stopped
from . import cleanup
from .channel import TOTAL_BYTES, ChildReport, line_cap, split_lines
from .output import HeadTail

ROOT = Path(__file__).resolve().parents[2]  # the folder holding the `grader` package
# The configuration is the first line of stdin, read unbuffered (the runner's later requests stay in the pipe).
BOOT = (
    "import json, sys\n"
    "def boot():\n"
    "    config = json.loads(sys.stdin.buffer.raw.readline())\n"
    "    sys.path.insert(0, config['root'])\n"
    "    __import__(config['entry'], fromlist=['main']).main(config)\n"
    "boot()\n"
)
APART_SECONDS = 10  # for the runner to be stopped by its prober, once its last cell has ended
ENTRIES = {"runner": "grader.child.main", "reader": "grader.child.reader"}


@dataclass
class ChildRun:
    report: ChildReport
    output: str  # head and tail of what the notebook printed (instructor log only)
    seconds: float
    stopped: str | None  # None: the child ended by itself; else "run_timeout", "watchdog" or "cancelled" (not needed)
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
        notebook: str | None = None,
        probes: dict | None = None,
        readings: dict | None = None,
        names=(),
        writable=(),
        role: str = "runner",
        skip_cells=(),
        warm=None,
        stand_ins: dict | None = None,
    ) -> None:
        self.settings, self.identity, self.workdir, self.role = settings, identity, workdir, role
        self.python = child_python(python)
        # a folder holding the child's own copy is never hidden (`--results /tmp/r.json` hides nothing of /tmp:
        # Landlock still keeps the child out of it)
        own = Path(workdir).resolve()
        self.config = {
            "workdir": str(workdir),
            "uid": identity.uid,
            "gid": identity.gid,
            "limits": asdict(settings.limits),
            "cell_timeout": settings.cell_timeout,
            "probe_timeout": settings.probe_timeout,
            "read_timeout": settings.read_timeout,
            "notebook_bytes": settings.notebook_bytes,
            "hide": [str(p) for p in hide if not own.is_relative_to(Path(p).resolve())],
            "ta_files": ta_files,
            "handout_code": handout_code,
            "notebook": notebook,  # the file name the assignment gives (Assignment.notebook)
            "probes": probes or {},  # {name: "module:function"}, imported by the runner before it is confined
            "names": list(names),  # what the probes call: the reader reports their defining cells
            "readings": readings or {},  # {name: "module:function"}, imported by the reader before it is confined
            "landlock": file_policy(self.python, workdir, identity.uid is not None, writable),
            "root": str(ROOT),
            "entry": ENTRIES[role],
            "skip_cells": sorted(skip_cells),  # cells that caught their interrupt in an earlier run (grade.py)
            # {module: package} a notebook's import gets a stand-in for in the runner (Assignment.packages)
            "stand_ins": stand_ins or {},
            # without a sandbox user: a private /dev/shm in a user namespace; tests turn it off to see the fallback
            "user_namespace": not os.environ.get("A0_TEST_NO_USER_NAMESPACE"),
        }
        self.warm = warm  # a warm start (grader/sandbox/warm.py) forks the child if it can; else it starts cold
        self.start = "started cold"
        self.proc: Any = None  # a subprocess.Popen, or a warm.Forked (what Child uses of one), once entered
        self.readers: list = []
        # the parent's own clock on each cell: past its limit and the watchdog's grace, it was stopped at its limit
        cell_limit = settings.cell_timeout + min(settings.watchdog_grace, settings.cell_timeout)
        self.report = ChildReport(role=role, cell_limit=cell_limit)
        self.changed = threading.Condition()  # notified on every accepted line and when the run has ended
        self.ended = False
        self.cancelled = False
        self.input_lock = threading.Lock()
        self.output = HeadTail(settings.output_head_bytes, settings.output_tail_bytes)
        self.current: tuple | None = None  # (what is running, monotonic time it started), for the watchdog
        self.stopped: str | None = None
        self.stopped_once = False
        self.leftovers = 0

    def __enter__(self):
        cleanup.become_subreaper()
        read_fd, write_fd = os.pipe()
        self.started_at = time.monotonic()
        try:
            self.proc, channel_fd = self._start(write_fd)
        finally:
            os.close(write_fd)
        self.send({**self.config, "channel_fd": channel_fd})
        self.readers = [
            threading.Thread(target=self._read_output, daemon=True),
            threading.Thread(target=self._read_channel, args=(read_fd,), daemon=True),
        ]
        for reader in self.readers:
            reader.start()
        return self

    def _start(self, write_fd: int) -> tuple:
        if self.warm is not None:
            try:
                started = self.warm.start(self.workdir, clean_env(self.workdir), write_fd)
                self.start = "forked by the warm start"
                return started
            except OSError:
                pass  # started cold, as a single grading does
        proc = subprocess.Popen(
            [self.python, "-I", "-c", BOOT],
            cwd=self.workdir,
            env=clean_env(self.workdir),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
        return proc, write_fd

    def run(self) -> ChildRun:
        """Wait until the child ends or is stopped (its requests come from another thread: `send`)."""
        self.stopped = self._wait()
        self._stop()
        with self.changed:
            self.ended = True
            self.changed.notify_all()
        return ChildRun(
            self.report,
            self.output.text(),
            time.monotonic() - self.started_at,
            self.stopped,
            self.current[0] if self.current else self.report.running,
            self.proc.returncode,
            _isolation(self.identity, self.report, self.start),
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
        if self.role == "runner":  # the sweep of the sandbox user would also stop a reader still rendering
            self.leftovers += cleanup.kill_leftovers(self.identity.uid)
        for reader in self.readers:
            reader.join(timeout=5)

    # -- the parent's side of the conversation
    def send(self, message: dict) -> None:
        """One JSON line on the child's stdin (a pipe: the child reads it when it is ready to)."""
        with self.input_lock:
            try:
                self.proc.stdin.write(json.dumps(message).encode() + b"\n")
                self.proc.stdin.flush()
            except (OSError, ValueError):
                pass  # the child is already gone; _wait says why

    def cancel(self) -> None:
        """Stop the child: it is not needed (its run says "cancelled")."""
        self.cancelled = True
        _kill_group(self.proc.pid)

    def close_input(self) -> None:
        with self.input_lock:
            try:
                self.proc.stdin.close()
            except (OSError, ValueError):
                pass

    def wait_apart(self) -> bool:
        """Until every thread of the runner is stopped, as the parent sees in /proc; noted if it never is."""
        if stopped(self.proc.pid, APART_SECONDS):
            return True
        with self.changed:
            self.report._problem(("not_apart",))
        return False

    def wait_for(self, seen) -> bool:
        """Block until `seen(self.report)` holds (True) or the child's run has ended (False). Bounded: every
        run ends, at the latest at its total timeout."""
        with self.changed:
            while not seen(self.report):
                if self.ended:
                    return False
                self.changed.wait(timeout=0.5)
        return True

    def _read_output(self) -> None:
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            self.output.add(chunk)

    def _read_channel(self, fd: int) -> None:
        budget = TOTAL_BYTES

        def chunks():
            nonlocal budget
            for chunk in iter(lambda: stream.read(65536), b""):
                budget -= len(chunk)
                if budget < 0:
                    self.report.problems.append(("too_much", "any"))
                    for _ in iter(lambda: stream.read(65536), b""):
                        pass
                    return
                yield chunk

        with os.fdopen(fd, "rb", buffering=0) as stream:
            for line in split_lines(chunks(), line_cap(self.role)):
                with self.changed:
                    if line is None:
                        self.report._problem(("too_long",))
                    else:
                        self.report.add_line(line)
                    self._track_running()
                    if not (line or b"").startswith(b'{"event": "cell_'):  # the one event of every cell wakes no one
                        self.changed.notify_all()

    def _track_running(self) -> None:
        running = self.report.running
        if running is None:
            self.current = None
        elif self.current is None or self.current[0] != running:
            self.current = (running, time.monotonic())

    def _wait(self) -> str | None:
        """None when the child exited by itself, else why it was stopped."""
        deadline = self.started_at + self.settings.total_timeout
        limits = {
            "cell": self.settings.cell_timeout,
            "probe": self.settings.probe_timeout,
            "read": self.settings.read_timeout,
        }
        grace = self.settings.watchdog_grace
        while True:
            try:
                self.proc.wait(timeout=0.1)
                return "cancelled" if self.cancelled else None
            except subprocess.TimeoutExpired:
                pass
            now, running = time.monotonic(), self.current
            if now > deadline:
                return "run_timeout"
            if running:
                limit = limits[running[0][0]]
                if now - running[1] > limit + min(grace, limit):
                    return "watchdog"


# What the child may read and write under Landlock, besides the Python installation (grader/child/confine.py)
SYSTEM_READ = (
    *("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin"),
    *(f"/etc/{name}" for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "passwd")),
    *(f"/etc/{name}" for name in ("group", "nsswitch.conf", "mime.types", "ssl", "fonts", "os-release", "hosts")),
    *("/proc", "/sys/devices/system/cpu", "/sys/devices/system/node", "/sys/fs/cgroup"),
    *("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"),
)
SYSTEM_WRITE = ("/dev/null", "/dev/zero", "/dev/full")


def file_policy(python: str, workdir: Path, user_switch: bool, writable=()) -> dict:
    """The child's Landlock allowlists. Read: the venv and the interpreter's own folders, by their real paths as the
    child resolves them (a checkout's plain `.venv`, never the checkout around it), and SYSTEM_READ. Write: its
    scratch folder (also its HOME and TMPDIR), and /dev/shm (multiprocessing's semaphores) only for a sandbox user,
    whose files there the sweep removes (without one, the child adds a private /dev/shm if it can make one); and
    `writable` (`--writable`, for tests). A path holding the grader's folder, or inside it but outside the venv, is
    never allowed to be read."""
    venv = Path(os.path.realpath(Path(python).parent.parent))
    grader = Path(os.path.realpath(ROOT))

    def allowed(path: str) -> bool:
        real = Path(os.path.realpath(path))
        inside = real.is_relative_to(grader) and not real.is_relative_to(venv)
        return os.path.exists(real) and not grader.is_relative_to(real) and not inside

    python_paths = [str(venv), sys.base_prefix, sys.base_exec_prefix, *sys.path]
    read: list = []
    for path in sorted({os.path.realpath(p) for p in [*python_paths, *SYSTEM_READ] if p and allowed(p)}):
        if not any(Path(path).is_relative_to(kept) for kept in read):  # a folder's rule covers all below it
            read.append(path)
    shm = ["/dev/shm"] if user_switch else []
    return {"read": read, "write": [str(workdir), *SYSTEM_WRITE, *shm, *map(str, writable)]}


def run_pair(reader: Child, runner: Child, request: dict) -> tuple:
    """Run the reader and the runner side by side; returns (the reader's ChildRun, the runner's)."""
    reading: dict = {}
    watcher = threading.Thread(target=lambda: reading.update(run=reader.run()), daemon=True)
    conductor = threading.Thread(target=_conduct, args=(reader, runner, request), daemon=True)
    watcher.start()
    conductor.start()
    run = runner.run()
    watcher.join()  # bounded: the reader's own run ends at its limits
    conductor.join(timeout=10)
    return reading.get("run"), run


def _conduct(reader: Child, runner: Child, request: dict) -> None:
    """The runner reads the notebook once the reader holds it (no student code can have changed it yet); it gets the
    probes' inputs once its last cell has ended, the reader has ended (the runner then stops whatever the notebook
    left running, as the sandbox user, which would include a reader still rendering) and every thread of the runner
    is seen stopped (the probes run in a process forked from its main thread: grader/child/apart.py)."""
    if not reader.wait_for(lambda r: r.loaded or r.ungradable is not None) or not reader.report.loaded:
        return runner.cancel()  # nothing to run: the runner need not finish importing torch
    runner.send({"go": True})
    if runner.wait_for(lambda r: r.cells_done):
        reader.wait_for(lambda r: False)  # until the reader's run has ended
        if runner.wait_apart():  # else the notebook's threads could read the inputs: they are never sent
            runner.send(request)
    runner.close_input()


def _isolation(identity, report: ChildReport, start: str) -> str:
    """For the instructor log: the child's own account, sent before any student code ran, and the parent's."""
    account = json.dumps(report.isolation or {"ready": False}, sort_keys=True)[:2000]
    return f"{identity.description}; {start}; {account}"


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def child_python(python: str) -> str:
    """The venv's bin folder by its real path (a checkout's .venv may be a link from a folder the sandbox user
    cannot enter); not the interpreter's own real path, which would leave the venv."""
    return os.path.join(os.path.realpath(os.path.dirname(python)), os.path.basename(python))


def clean_env(workdir: Path) -> dict:
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
