"""Kill every process the child left behind: double-forked, setsid and stopped ones included; remove what a
sandbox user left (System V IPC objects, files in the world-writable places, deep folders).

The sweeps by owner (kill_user, remove_ipc, remove_files_of, sweep_user) are only for dedicated sandbox users:
never call them with the uid of a TA or of the grader itself, whose every process and file they would destroy.
"""

import ctypes
import os
import signal
import stat
import tempfile
import time
from contextlib import contextmanager, nullcontext

PR_SET_CHILD_SUBREAPER = 36
# Where any user can create files on this machine and on Gradescope's (Ubuntu in Docker), found with
# `find / -xdev -type d -perm -0002` and by hand for the other filesystems: /tmp, /var/tmp, /dev/shm (also POSIX
# shared memory and semaphores), /run/lock, and /dev/mqueue (POSIX message queues; mounted in Docker; where it is
# not, the queues exist all the same and are reached through a mount of our own).
# World-writable folders inside them are walked too. Group-writable folders (/var/mail, /var/local, ...) do not
# matter: a sandbox user has only its own group. The scratch folder is the caller's (remove_tree).
WRITABLE_PLACES = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")
MAX_ENTRIES = 500_000  # looked at per call
SWEEP_SECONDS = 60.0
IPC_RMID = 0
_libc = ctypes.CDLL(None, use_errno=True)


def become_subreaper() -> None:
    """Orphans of our descendants are re-parented to us instead of init, so none can slip away (Linux only: elsewhere
    the child's process group is what gets killed)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (AttributeError, OSError):
        pass


def _processes():
    """(pid, ppid, uid, state) of every live process (none known without /proc, as on macOS)."""
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            yield (int(entry), int(fields["PPid"]), int(fields["Uid"].split()[0]), fields["State"].split()[0])
        except (OSError, KeyError, ValueError):
            continue


def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


_SPARED: dict = {}


def spare(pid: int, spared: bool = True, descendants: bool = False) -> None:
    """A child of this process that is not a leftover: never killed (a warm start's process, whose children are
    the grading's and still are; a grader.serve, with all its descendants)."""
    if spared:
        _SPARED[pid] = descendants
    else:
        _SPARED.pop(pid, None)


def _descendants(root: int):
    children: dict = {}
    for pid, ppid, _, state in _processes():
        if state != "Z":
            children.setdefault(ppid, []).append(pid)
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid not in _SPARED:
            found.append(pid)
        if not _SPARED.get(pid):
            todo.extend(children.get(pid, []))
    return found


def _kill_all_of_user(uid: int) -> None:
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
    """Kill this process's descendants and, with a uid, every process of that sandbox user, until nothing is left;
    returns how many were found. Bounded in time."""
    return _kill_until_gone(uid, deadline_seconds, descendants=True)


def kill_user(uid: int, deadline_seconds: float = 10.0) -> int:
    """Kill every process of a sandbox user, wherever it runs; returns how many were found. Unlike kill_leftovers
    it leaves this process's other children alone (other gradings of a batch). Never the TA's own uid."""
    return _kill_until_gone(uid, deadline_seconds, descendants=False)


def _kill_until_gone(uid: int | None, deadline_seconds: float, descendants: bool) -> int:
    seen = set()
    end = time.monotonic() + deadline_seconds
    while time.monotonic() < end:
        _reap()
        targets = set(_descendants(os.getpid())) if descendants else set()
        if uid is not None:
            targets |= {pid for pid, _, puid, state in _processes() if puid == uid and state != "Z"}
        if not targets:
            break
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


def remove_ipc(uid: int) -> int:
    """Remove every System V shared memory segment, semaphore set and message queue owned or created by uid;
    returns how many. A segment still attached goes when its last process ends. Never the TA's own uid."""
    removed = 0
    for kind, key, remove in (
        ("shm", "shmid", lambda i: _libc.shmctl(i, IPC_RMID, None)),
        ("sem", "semid", lambda i: _libc.semctl(i, 0, IPC_RMID)),
        ("msg", "msqid", lambda i: _libc.msgctl(i, IPC_RMID, None)),
    ):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                header, *rows = [line.split() for line in f]
        except OSError:
            continue
        for row in rows:
            fields = dict(zip(header, row))
            try:
                if uid in (int(fields["uid"]), int(fields["cuid"])) and remove(int(fields[key])) == 0:
                    removed += 1
            except (KeyError, ValueError):
                continue
    return removed


def remove_tree(path) -> None:
    """Remove a folder and everything in it, however deep (no recursion: shutil.rmtree raises RecursionError
    at about 1,000 levels), without following links or crossing into other filesystems, folders with mode 000
    included. Bounded: at most MAX_ENTRIES entries and SWEEP_SECONDS; whatever is left then stays."""
    path = os.path.abspath(path)
    try:
        parent = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        _Sweep(None, MAX_ENTRIES, SWEEP_SECONDS).remove_entry(parent, os.path.basename(path))
    finally:
        os.close(parent)


def remove_files_of(uid: int, places=WRITABLE_PLACES) -> int:
    """Remove every file, folder, fifo, socket and link owned by uid under `places` (a folder of uid's goes with
    everything in it); returns how many entries were removed. Links are never followed, mount points never
    crossed; bounded by MAX_ENTRIES entries looked at and SWEEP_SECONDS. Never the TA's own uid."""
    sweep = _Sweep(uid, MAX_ENTRIES, SWEEP_SECONDS)
    for place in places:
        mqueue = place == "/dev/mqueue" and not os.path.isdir(place)
        with _mqueue_mounted() if mqueue else nullcontext(place) as folder:
            if folder is None:
                continue
            try:
                parent = os.open(os.path.dirname(folder) or "/", os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                continue
            try:
                sweep.walk(parent, os.path.basename(folder))
            finally:
                os.close(parent)
    return sweep.removed


@contextmanager
def _mqueue_mounted():
    """POSIX message queues where /dev/mqueue is not mounted: a private mount of the mqueue filesystem (root
    only; None when it cannot be mounted)."""
    folder = tempfile.mkdtemp(prefix="a0-mqueue-")
    try:
        mounted = _libc.mount(b"none", folder.encode(), b"mqueue", 0, None) == 0
        try:
            yield folder if mounted else None
        finally:
            if mounted:
                _libc.umount2(folder.encode(), 2)  # MNT_DETACH
    finally:
        os.rmdir(folder)


def sweep_user(uid: int) -> dict:
    """Everything a sandbox user left: its processes, then its IPC objects, then its files in the writable
    places. For the log. Only for a dedicated sandbox user, never the TA's own uid (nor root)."""
    if uid == 0 or uid == os.getuid():
        raise ValueError(f"refusing to sweep uid {uid}: not a sandbox user")
    processes = kill_user(uid)
    return {"processes": processes, "ipc": remove_ipc(uid), "files": remove_files_of(uid)}


class _Sweep:
    """Depth-first through folders with one open descriptor at a time, going back up through `..` (checked by
    device and inode), so depth costs neither recursion nor descriptors nor path length (PATH_MAX)."""

    def __init__(self, uid: int | None, max_entries: int, seconds: float) -> None:
        self.uid, self.budget, self.end = uid, max_entries, time.monotonic() + seconds
        self.removed = 0

    def _out_of_budget(self) -> bool:
        return self.budget <= 0 or time.monotonic() > self.end

    def _owned(self, info) -> bool:
        return self.uid is None or info.st_uid == self.uid

    def _enterable(self, info) -> bool:
        """Whether uid could have reached inside this folder (not its own) to leave something: without search
        permission for others or a group (a sandbox user has only its own group), nothing below can be uid's.
        Skipping these keeps a sweep short where /tmp holds other people's trees (pytest's, a TA's)."""
        return bool(info.st_mode & (stat.S_IXOTH | stat.S_IXGRP))

    def remove_entry(self, parent: int, name: str) -> None:
        """Remove parent/name, with everything in it if it is a folder."""
        try:
            info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except OSError:
            return
        if stat.S_ISDIR(info.st_mode):
            self.walk(parent, name, remove=True)
        else:
            self._unlink(parent, name)

    def walk(self, parent: int, name: str, remove: bool = False) -> None:
        """Go through parent/name: remove what is owned (all of it when `remove`), descend into the rest."""
        fd = self._open(parent, name, None, remove)
        if fd is None:
            return
        top = os.fstat(fd)
        # one level per folder entered: (device, inode, name, remove it afterwards, subfolders still to visit)
        levels = [(top.st_dev, top.st_ino, name, remove, self._scan(fd, remove))]
        try:
            while len(levels) > 1 or (levels[0][4] and not self._out_of_budget()):
                _, _, name, remove, pending = levels[-1]
                if pending and not self._out_of_budget():
                    sub, sub_remove = pending.pop()
                    child = self._open(fd, sub, top.st_dev, sub_remove)
                    if child is not None:
                        info = os.fstat(child)
                        sub_remove = sub_remove and (remove or self._owned(info))  # it may have changed
                        os.close(fd)
                        fd = child
                        levels.append((info.st_dev, info.st_ino, sub, sub_remove, self._scan(fd, sub_remove)))
                    continue
                levels.pop()
                up = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = up
                info = os.fstat(fd)
                if (info.st_dev, info.st_ino) != levels[-1][:2]:
                    return  # a folder was moved meanwhile: stop rather than remove in the wrong place
                if remove:
                    self._rmdir(fd, name)
        except OSError:
            return
        finally:
            os.close(fd)
        if levels[0][3]:
            self._rmdir(parent, levels[0][2])

    def _scan(self, fd: int, remove: bool) -> list:
        """Unlink what goes in this folder now; return the subfolders to visit, each with whether it goes."""
        pending = []
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    self.budget -= 1
                    if self._out_of_budget():
                        break
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    owned = remove or self._owned(info)
                    if stat.S_ISDIR(info.st_mode):
                        if owned or self._enterable(info):
                            pending.append((entry.name, owned))
                    elif owned:
                        self._unlink(fd, entry.name)
        except OSError:
            pass
        return pending

    def _open(self, parent: int, name: str, device: int | None, remove: bool) -> int | None:
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
        try:
            fd = os.open(name, flags, dir_fd=parent)
        except PermissionError:  # not root: a folder of our own made unreadable
            if not remove:
                return None
            try:
                os.chmod(name, 0o700, dir_fd=parent)
                fd = os.open(name, flags, dir_fd=parent)
            except OSError:
                return None
        except OSError:
            return None
        if device is not None and os.fstat(fd).st_dev != device:  # a mount point: leave it
            os.close(fd)
            return None
        return fd

    def _unlink(self, parent: int, name: str) -> None:
        try:
            os.unlink(name, dir_fd=parent)
            self.removed += 1
        except PermissionError:  # not root: a folder of our own made unwritable
            try:
                os.fchmod(parent, 0o700)
                os.unlink(name, dir_fd=parent)
                self.removed += 1
            except OSError:
                pass
        except OSError:
            pass

    def _rmdir(self, parent: int, name: str) -> None:
        try:
            os.rmdir(name, dir_fd=parent)
            self.removed += 1
        except OSError:
            pass
