"""Sandbox users are leased, never shared: each grading holds an exclusive lock on its user for its whole length.

The lock is an flock on a root-only file, so the kernel releases it if the grader dies. A grading takes the first
free user of the pool `a0sandbox`, `a0sandbox-1`, ... (created on demand); `--sandbox-user` pins one and waits for
it. Before and after each grading everything the user left is swept (processes, IPC objects, files), so nothing of
one grading can touch the next. Without root there is no user switch and no lease: the child runs as the grader's
own user and only what the grading itself created is removed.
"""

import fcntl
import os
import pwd
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

LOCKS = "/run/a0-autograder/leases"
POOL_SIZE = 64


@dataclass
class Identity:
    name: str | None
    uid: int | None  # None: no user switch (the grader is not root)
    gid: int | None
    description: str


@contextmanager
def lease(pool: str, pinned: str | None = None, wait_seconds: float = 900.0) -> Iterator[Identity]:
    """Yields the Identity the child runs as, swept before and after."""
    if os.geteuid() != 0:
        yield Identity(
            None,
            None,
            None,
            "no user switch possible (the grader is not root); the child runs as the "
            "grader's own user, with the same limits",
        )
        return
    from .cleanup import sweep_user

    os.makedirs(LOCKS, mode=0o700, exist_ok=True)
    names = [pinned] if pinned else [pool] + [f"{pool}-{n}" for n in range(1, POOL_SIZE)]
    deadline = time.monotonic() + wait_seconds
    while True:
        for name in names:
            fd = os.open(os.path.join(LOCKS, name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                entry = system_user(name)
                sweep_user(entry.pw_uid)
                try:
                    yield Identity(
                        name,
                        entry.pw_uid,
                        entry.pw_gid,
                        f"child runs as user `{name}` (uid {entry.pw_uid}), leased for this grading",
                    )
                finally:
                    sweep_user(entry.pw_uid)
            finally:
                os.close(fd)  # releases the lock
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"no sandbox user became free within {wait_seconds:.0f} s: "
                f"{'`' + pinned + '` stays' if pinned else 'all ' + str(POOL_SIZE) + ' are'} in use"
            )
        time.sleep(0.2)


def system_user(name: str) -> pwd.struct_passwd:
    """The unprivileged system account `name`, created if missing (never root)."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        entry = None
    for _ in range(20):  # useradd fails while another useradd holds /etc/passwd's lock
        if entry is not None:
            break
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            check=False,
            timeout=30,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            time.sleep(0.2)
    if entry is None:
        raise RuntimeError(
            f"the sandbox user `{name}` does not exist and could not be created "
            "(setup.sh creates a0sandbox; run as root)"
        )
    if entry.pw_uid == 0:
        raise RuntimeError(f"the sandbox user `{name}` is root")
    return entry
