"""Parent side of the warm start (grader/child/warm.py): a grader that grades many notebooks keeps one warm process,
which forks each child instead of a fresh interpreter importing torch again (make bench-warm: a grading's CPU time
from 3.1 s to about 0.45 s once the warm process has started).

`Warm().start(cwd, env, channel_fd)` returns what `subprocess.Popen` would (pid, stdin, stdout, wait, returncode)
and the channel's descriptor number in the child, or raises OSError: the caller then starts the child cold. The
warm process is this process's child and never a target of the leftover sweep (cleanup.spare); a forked child is
the warm process's child, so the warm process reports each child's exit status.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..records import CHANNEL_FD
from . import cleanup
from .launch import ROOT, child_python, clean_env

START_SECONDS = 60  # the warm process imports torch before it answers its first request
ANSWER_SECONDS = 30
BOOT = "import sys\nsys.path.insert(0, sys.argv[1])\nfrom grader.child.warm import main\nmain(int(sys.argv[2]))\n"


class Warm:
    def __init__(self, python: str = sys.executable) -> None:
        self.python = child_python(python)
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.lock = threading.Lock()  # one request at a time
        self.changed = threading.Condition()
        self.answers: list = []
        self.exits: dict = {}
        self.alive = self.fresh = False
        self.generation = 0  # which warm process: a child of an earlier one is waited for without its report

    def _boot(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [self.python, "-I", "-c", BOOT, str(ROOT), str(theirs.fileno())],
                cwd="/",
                env=clean_env(Path("/")),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
            )
        finally:
            theirs.close()
        cleanup.spare(self.proc.pid)
        self.sock, self.alive, self.fresh, self.answers = ours, True, True, []
        self.generation += 1
        threading.Thread(target=self._listen, args=(ours,), daemon=True).start()

    def _listen(self, sock) -> None:
        while True:
            try:
                message = sock.recv(4096)
            except OSError:
                message = b""
            with self.changed:
                if not message:
                    if sock is self.sock:
                        self.alive = False
                    self.changed.notify_all()
                    return
                event = json.loads(message)
                if "exit" in event:
                    self.exits[event["exit"]] = event["code"]
                else:
                    self.answers.append(event["pid"])
                self.changed.notify_all()

    def start(self, cwd, env: dict, channel_fd: int) -> tuple:
        """(a Popen-like child, the number its channel has in it); OSError if the warm process cannot start it (a
        warm process found dead is started again, once)."""
        with self.lock:
            for _ in range(2):
                if not self.alive:
                    self.close()
                    self._boot()
                (stdin_r, stdin_w), (stdout_r, stdout_w) = os.pipe(), os.pipe()
                try:
                    pid = self._ask(json.dumps({"cwd": str(cwd), "env": env}).encode(), [stdin_r, stdout_w, channel_fd])
                finally:
                    os.close(stdin_r)
                    os.close(stdout_w)
                if pid is not None:
                    return Forked(self, pid, stdin_w, stdout_r), CHANNEL_FD
                os.close(stdin_w)
                os.close(stdout_r)
                self.close()
            raise OSError("the warm process did not start the child")

    def _ask(self, request: bytes, fds: list) -> int | None:
        if self.sock is None:  # closed
            return None
        try:
            socket.send_fds(self.sock, [request], fds)
        except OSError:
            return None
        with self.changed:
            limit, self.fresh = START_SECONDS if self.fresh else ANSWER_SECONDS, False
            waited = self.changed.wait_for(lambda: self.answers or not self.alive, limit)
            return self.answers.pop(0) if waited and self.answers else None

    def close(self) -> None:
        """Stop the warm process (its children are its parent's to stop)."""
        if self.sock is not None:
            self.sock.close()
        if self.proc is not None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            cleanup.spare(self.proc.pid, False)
        self.proc, self.sock = None, None
        self.alive = False


class Forked:
    """What Child needs of subprocess.Popen, for a child the warm process forked."""

    def __init__(self, warm: Warm, pid: int, stdin_fd: int, stdout_fd: int) -> None:
        self.warm, self.pid, self.generation = warm, pid, warm.generation
        self.returncode: int | None = None
        self.stdin = os.fdopen(stdin_fd, "wb")
        self.stdout = os.fdopen(stdout_fd, "rb")

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is not None:
            return self.returncode
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.warm.changed:
            while self.pid not in self.warm.exits:
                gone = not self.warm.alive or self.warm.generation != self.generation
                if gone and not _alive(self.pid):  # its warm process died: the report is lost
                    self.warm.exits[self.pid] = -9
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired("warm child", timeout or 0.0)
                self.warm.changed.wait(timeout=0.2 if left is None else min(left, 0.2))
            self.returncode = self.warm.exits.pop(self.pid)
        return self.returncode


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # re-parented to this process (a subreaper) once the warm process died
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
        return not _zombie(pid)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
