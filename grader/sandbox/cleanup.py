"""Kill every process the child left behind: double-forked, setsid and stopped ones included."""
import ctypes
import os
import signal
import time

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    """Orphans of our descendants are re-parented to us instead of init, so none can slip away."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _processes():
    """(pid, ppid, uid, state) of every live process."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            yield (int(entry), int(fields["PPid"]), int(fields["Uid"].split()[0]), fields["State"].split()[0])
        except (OSError, KeyError, ValueError):
            continue


def _reap():
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _descendants(root: int):
    children: dict = {}
    for pid, ppid, _, state in _processes():
        if state != "Z":
            children.setdefault(ppid, []).append(pid)
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _kill_all_of_user(uid: int):
    """kill(-1) run as that user reaches every process it owns, in one system call."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(65534)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def kill_leftovers(uid: int | None, deadline_seconds: float = 10.0) -> int:
    """Kill until nothing is left; returns how many processes were found. Bounded in time."""
    seen = set()
    end = time.monotonic() + deadline_seconds
    while time.monotonic() < end:
        _reap()
        targets = set(_descendants(os.getpid()))
        if uid is not None:
            targets |= {pid for pid, _, puid, state in _processes() if puid == uid and state != "Z"}
        if not targets:
            return len(seen)
        seen |= targets
        if uid is not None:
            _kill_all_of_user(uid)
        for pid in targets:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    return len(seen)


def sweep_user(uid: int) -> dict:   # TEMPORARY: replaced by the issue10-sweep branch
    return {"processes": kill_leftovers(uid)}


def remove_tree(path) -> None:   # TEMPORARY: replaced by the issue10-sweep branch
    import shutil
    shutil.rmtree(path, ignore_errors=True)
