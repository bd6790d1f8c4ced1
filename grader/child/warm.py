"""The warm start: one process imports what the children need (torch, IPython, nbformat, both entry points) once,
then forks a child for each request of its parent, a grader that grades many notebooks (grader/serve.py: the batch
and the project's tests). A single grading starts its children cold (grader/sandbox/launch.py BOOT); from its
first line on, a forked child runs exactly what a cold one runs: it reads its configuration on stdin, confines
itself, reads or runs the notebook.

Nothing of a submission reaches this process: a request is a folder name, an environment and three descriptors
(the child's stdin, stdout and channel), never a notebook. It never runs student code, and a forked child closes
every descriptor of this process before its first line runs.
"""

import ctypes
import fcntl
import json
import os
import select
import signal
import socket
import sys
import tempfile
import traceback

from ..records import CHANNEL_FD

MAX_REQUEST = 65536
READY_SECONDS = 10
PR_SET_PDEATHSIG = 1


def main(sock_fd: int) -> None:
    import IPython.core.interactiveshell  # noqa: F401
    import nbformat  # noqa: F401
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401  -- what a notebook's first optimizer imports: 1.1 s of CPU in every child

    from . import main as _runner  # noqa: F401
    from . import reader as _reader  # noqa: F401
    from . import render as _render  # noqa: F401  -- the batch's pages for the staff

    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # never outlives its parent
    sock = socket.socket(fileno=sock_fd)
    children: set = set()
    while True:
        readable, _, _ = select.select([sock], [], [], 0.05)
        _reap(sock, children)
        if not readable:
            continue
        message, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, 3)
        if not message:
            return  # the parent has gone: its children are its to stop
        try:
            pid = _fork(json.loads(message), fds) if len(fds) == 3 else None
        finally:
            for fd in fds:
                os.close(fd)
        if pid:
            children.add(pid)
        sock.send(json.dumps({"pid": pid}).encode())


def _reap(sock, children: set) -> None:
    for pid in list(children):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done, status = pid, 0
        if done:
            children.discard(pid)
            sock.send(json.dumps({"exit": pid, "code": os.waitstatus_to_exitcode(status)}).encode())


def _fork(request: dict, fds: list) -> int | None:
    """The new child's pid once it leads its own session (the parent stops it by its process group), or None."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        _child(request, fds, ready_w)
    os.close(ready_w)
    try:
        started = select.select([ready_r], [], [], READY_SECONDS)[0] and os.read(ready_r, 1) == b"1"
    finally:
        os.close(ready_r)
    if not started:
        os.kill(pid, signal.SIGKILL)
        return None
    return pid


def _child(request: dict, fds: list, ready_w: int) -> None:
    code = 1
    try:
        os.setsid()
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in (*fds, ready_w)]  # out of the targets' way
        for target, fd in zip((0, 1, CHANNEL_FD, CHANNEL_FD + 1), high):
            os.dup2(fd, target)
        os.dup2(1, 2)
        os.closerange(CHANNEL_FD + 2, os.sysconf("SC_OPEN_MAX"))  # the socket to the parent above all
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # found again from TMPDIR, as in a cold child
        if "numpy.random" in sys.modules:
            sys.modules["numpy.random"].seed()  # a cold child's unseeded draws differ from run to run
        from . import errors

        errors.own_process()
        os.write(CHANNEL_FD + 1, b"1")
        os.close(CHANNEL_FD + 1)
        config = json.loads(sys.stdin.buffer.raw.readline())  # type: ignore[union-attr]  # a BufferedReader: its raw stream
        __import__(config["entry"], fromlist=["main"]).main(config)
        code = 0
    except SystemExit as exit:
        code = 0 if exit.code is None else exit.code if isinstance(exit.code, int) else 1
    except BaseException:  # noqa: BLE001  -- as a cold child's interpreter would: the traceback, exit status 1
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)
