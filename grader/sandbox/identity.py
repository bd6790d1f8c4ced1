"""Who runs the child: an unprivileged user when the grader is root, and what that user may not read."""
import os
import pwd
import stat
import subprocess
from dataclasses import dataclass


@dataclass
class Identity:
    uid: int | None   # None: no user switch (the grader is not root)
    gid: int | None
    description: str


def sandbox_identity(user: str) -> Identity:
    if os.geteuid() != 0:
        return Identity(None, None, "no user switch possible (the grader is not root); "
                                    "the child runs as the grader's own user, with the same limits")
    for name in (user, "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            if name == user and _create_user(name):
                entry = pwd.getpwnam(name)
            else:
                continue
        if entry.pw_uid == 0:
            continue
        return Identity(entry.pw_uid, entry.pw_gid, f"child runs as user `{name}` (uid {entry.pw_uid})")
    raise RuntimeError(f"no unprivileged user to run student code: create `{user}` (setup.sh does)")


def _create_user(name: str) -> bool:
    try:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", name], check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return True
    except (OSError, subprocess.SubprocessError):
        return False


def hide_from_others(paths):
    """Remove group/other access from the grader's own folders (root still reads them)."""
    for path in paths:
        if os.path.exists(path) and not os.path.islink(path):
            mode = stat.S_IMODE(os.stat(path).st_mode)
            os.chmod(path, mode & 0o700)
