"""Grade many notebooks in one process, every child forked by one warm start (grader/sandbox/warm.py) instead of
a fresh interpreter importing torch again: the batch keeps one per job slot, the project's tests one per worker.

`python -m grader.serve`: each line on stdin is a JSON request {"job": one grading (grade.Job.to_json), "log": a file
for what that grading prints, or null for stderr}; once the grading has ended, its exit status (run_autograder's) is
one line on stdout. `Server` is the other end."""

import json
import os
import select
import signal
import subprocess
import sys
from typing import IO, cast

from .grade import Job, grade_job
from .sandbox import cleanup
from .sandbox.launch import ROOT, child_python
from .sandbox.warm import Warm

BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from grader.serve import main; main()"


def main() -> None:
    replies = os.fdopen(os.dup(1), "w")
    stderr = os.dup(2)
    warm = Warm()
    try:
        for line in sys.stdin:
            request = json.loads(line)
            log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) if request["log"] else stderr
            os.dup2(log, 1)
            os.dup2(log, 2)
            _reset_peak_memory()
            try:
                code, _ = grade_job(Job.from_json(request["job"]), warm)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                if log != stderr:
                    os.close(log)
            print(json.dumps(code), file=replies, flush=True)
            if code == 130:  # interrupted: stop, as run_autograder would
                break
    finally:
        warm.close()
    os._exit(0)


def _reset_peak_memory() -> None:
    """The log's "parent peak memory" (VmHWM) is then this grading's, not the largest of all this process graded."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass  # not Linux: the peak is this process's


class Server:
    """A grader.serve process, started on first use and again after it died or was killed."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def grade(self, job: Job, log=None, timeout: float | None = None) -> int:
        """run_autograder's exit status for that grading; subprocess.TimeoutExpired (the server is then killed)."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            proc = self.proc = subprocess.Popen(
                [child_python(sys.executable), "-I", "-c", BOOT, str(ROOT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
            cleanup.spare(proc.pid, descendants=True)  # not a leftover of a grading this process runs itself
        stdin, stdout = cast(IO[str], proc.stdin), cast(IO[str], proc.stdout)  # both pipes
        try:
            stdin.write(json.dumps({"job": job.to_json(), "log": None if log is None else str(log)}) + "\n")
            stdin.flush()
        except OSError:
            pass  # it has just died: its exit status says so below
        if not select.select([stdout], [], [], timeout)[0]:
            self.kill()
            raise subprocess.TimeoutExpired("grader.serve", timeout or 0.0)
        answer = stdout.readline()
        return int(answer) if answer.strip() else (proc.wait(timeout=30) or 1)

    @property
    def pid(self):
        return None if self.proc is None else self.proc.pid

    def wait(self, timeout: float | None = None):
        return None if self.proc is None else self.proc.wait(timeout=timeout)

    def kill(self, signum=signal.SIGKILL) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signum)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        if self.proc is not None:
            cast(IO[str], self.proc.stdin).close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


if __name__ == "__main__":
    main()
