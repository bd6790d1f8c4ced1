"""Runs inside the child, before it reads any student code: resource limits, no network, unprivileged user, a
Landlock file policy, and the grader's own files out of sight.

Each protection is applied where the platform offers it (Linux as root: all of them; a TA's laptop, macOS or a
container without CAP_SYS_ADMIN: fewer), and the report names every layer in force and every one missing, for the
log and results.json's `not_in_force`.
"""

import ctypes
import ctypes.util
import os
import platform
import resource
import signal
import stat
import struct
import time
from typing import Any

from ..landlock import LANDLOCK_CREATE_RULESET, landlock_abi

_libc: Any  # libc, or None without one: a call then raises AttributeError (confine.py: "not on this platform")
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
except OSError:
    _libc = None
CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWUSER = 0x40000000, 0x00020000, 0x10000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC = 1, 1
# arch: (AUDIT_ARCH value, seccomp syscall, blocked syscalls: socket, io_uring_setup)
_ARCH = {"x86_64": (0xC000003E, 317, (41, 425)), "aarch64": (0xC00000B7, 277, (198, 425))}
AF_UNIX, EACCES = 1, 13
# Landlock (Linux 5.13+): the same syscall numbers on every architecture; rights by the ABI that brought them
LANDLOCK_ADD_RULE, LANDLOCK_RESTRICT_SELF, LANDLOCK_RULE_PATH_BENEATH = 445, 446, 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1, 2, 4, 8
FS_ALL = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1, 5: (1 << 16) - 1}  # by ABI
FS_FILE_ONLY = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | (1 << 14) | (1 << 15)  # + TRUNCATE, IOCTL_DEV
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2  # ABI 6
LIMITS = (
    ("RLIMIT_CPU", "cpu_seconds"),
    ("RLIMIT_AS", "memory_bytes"),
    ("RLIMIT_NPROC", "processes"),
    ("RLIMIT_FSIZE", "file_bytes"),
    ("RLIMIT_NOFILE", "open_files"),
    ("RLIMIT_CORE", None),
)


def confine(config: dict) -> dict:
    """Apply every protection the platform offers; returns what is in force and what is not."""
    limits, missing = config["limits"], list[str]()
    done: dict = {"user": "unchanged (not root)" if os.geteuid() else "root"}
    done["hidden"] = _hide(config.get("hide", []), missing)
    private = config.get("uid") is None and _attempt(
        lambda: config.get("user_namespace", True) and _private_shm(limits["memory_bytes"] // 4),
        missing,
        "user namespace (no private /dev/shm: DataLoader workers load in-process, no multiprocessing)",
    )
    done["shm"] = "private tmpfs in a user namespace" if private else "not private"
    namespace = _attempt(lambda: _new_network_namespace(private), missing, "network namespace")
    done["network"] = "namespace" if namespace else "no namespace"
    if private:
        _attempt(_drop_capabilities, missing, "capabilities in the user namespace dropped")
    _attempt(_oom_first, missing, "oom_score_adj")
    for name, key in LIMITS:
        value = limits[key] if key else 0
        _attempt(
            lambda name=name, value=value: resource.setrlimit(getattr(resource, name), (value, value)), missing, name
        )
    os.chdir(config["workdir"])
    os.umask(0o077)
    if config.get("uid") is not None:
        os.setgroups([])
        os.setgid(config["gid"])
        os.setuid(config["uid"])
        done["user"] = f"uid {config['uid']}"
    privileges_fixed = _attempt(_no_new_privs, missing, "no_new_privs")  # seccomp and Landlock need it
    policy = config.get("landlock")
    if private and policy is not None:  # the tmpfs, not the machine's /dev/shm: the rule is bound to its root
        policy = {**policy, "write": [*policy["write"], "/dev/shm"]}
    done["files"] = _landlock(policy, privileges_fixed, missing)
    # Unix sockets only for a sandbox user in a network namespace: the TA's own (ssh-agent, D-Bus) are the TA's uid's
    unix = namespace and config.get("uid") is not None
    if _attempt(lambda: privileges_fixed and _block_sockets(unix), missing, "seccomp network filter"):
        done["network"] += (
            " + seccomp (socket() refused for every family but AF_UNIX; io_uring refused)"
            if unix
            else " + seccomp (socket() refused for every family, AF_UNIX included: "
            "Unix sockets only through socketpair(); io_uring refused)"
        )
    done["limits"] = dict(limits)
    done["not_in_force"] = missing
    done["in_force"] = _layers(done, missing)
    return done


def _layers(done: dict, missing: list) -> list:
    """The layers by name, for the log; `missing` gets the user switch when there is none."""
    layers = []
    if done["user"].startswith("uid"):
        layers.append("user switch")
    else:
        missing.insert(0, "user switch" + (" (the grader is not root)" if os.geteuid() else ""))
    if done["files"].startswith("Landlock"):
        layers.append(done["files"].split(":")[0])
    if done["shm"].startswith("private"):
        layers.append("user namespace (private /dev/shm)")
    if done["network"].startswith("namespace"):
        layers.append("network namespace")
    if "by a mount namespace" in done["hidden"]:
        layers.append("mount namespace")
    if "seccomp" in done["network"]:
        layers.append("seccomp")
    if not any(m.startswith("RLIMIT") for m in missing):
        layers.append("rlimits")
    return layers


def _landlock(policy: dict | None, privileges_fixed: bool, missing: list) -> str:
    """Linux Landlock: this process and all it starts may read only `policy["read"]` (the Python installation, the
    venv, the few system paths torch and IPython use) and write only `policy["write"]` (its scratch folder), and
    reach nothing else: not the grader's checkout, the batch's folders, the TA's home or another grading's scratch.
    Paths that do not exist or this user cannot open are skipped. Needs no privilege, only no_new_privs. Where the
    ABI allows (4, 6), TCP bind/connect are refused too and abstract Unix sockets and signals stay in the sandbox."""
    abi = landlock_abi() if policy is not None else 0
    if policy is None or not abi or not privileges_fixed or _threads() != 1:
        missing.append("Landlock (files confined by permissions only)" if policy is not None else "Landlock")
        return "no Landlock"
    fs_all = FS_ALL[min(abi, 5)]
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("QQQ", fs_all, net, scoped)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    ruleset = _libc.syscall(LANDLOCK_CREATE_RULESET, attr, ctypes.c_size_t(len(attr)), 0)
    if ruleset < 0:
        missing.append("Landlock (files confined by permissions only)")
        return "no Landlock"
    try:
        read = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
        rules = [(path, read) for path in policy.get("read", [])] + [(path, fs_all) for path in policy["write"]]
        for path, access in rules:
            _allow(ruleset, path, access)
        if _libc.syscall(LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    except OSError:
        missing.append("Landlock (files confined by permissions only)")
        return "no Landlock"
    finally:
        os.close(ruleset)
    if abi < 6:
        missing.append("Landlock scoping of abstract Unix sockets and signals (ABI < 6)")
    return (
        f"Landlock ABI {abi}: reads only {len(policy.get('read', []))} system and Python paths, writes only "
        f"{', '.join(policy['write'])}"
        + ("; TCP refused" if net else "")
        + ("; signals, abstract sockets scoped" if scoped else "")
    )


def _allow(ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # missing, or closed to this user: nothing to allow
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= FS_FILE_ONLY
        rule = struct.pack("=Qi", access, fd)
        if _libc.syscall(LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, rule, 0) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule {path!r} failed")
    finally:
        os.close(fd)


def _threads() -> int:
    """landlock_restrict_self confines the calling thread only (and what it starts): there must be no other."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _attempt(protect, missing: list, name: str) -> bool:
    """Run one protection: it fails by raising or by returning False. A platform without it (macOS, no prctl, no
    seccomp, no namespaces) is noted, not fatal."""
    try:
        if protect() is not False:
            return True
    except (OSError, AttributeError, KeyError, ValueError):
        pass
    missing.append(name)
    return False


def _oom_first() -> bool:
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")
    return True


def _no_new_privs() -> bool:
    if _libc is None or _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError("prctl(PR_SET_NO_NEW_PRIVS) failed")
    return True


def _hide(paths: list, missing: list) -> str:
    """The grader's files (a checkout, the batch's export and output) are covered by empty read-only folders in a
    mount namespace of the child's own, so nothing on disk changes. Without one, they stay as they are (Gradescope's
    setup.sh makes its source folder unreadable to the sandbox user instead)."""
    if not paths:
        return "nothing to hide"
    try:
        if os.geteuid() != 0 or _libc is None or _libc.unshare(CLONE_NEWNS) != 0:
            raise OSError("no mount namespace")
        _mount(b"none", b"/", None, MS_REC | MS_PRIVATE)
        for path in paths:
            if os.path.isdir(path):
                _mount(b"tmpfs", path.encode(), b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, b"size=4k")
            elif os.path.exists(path):
                _mount(b"/dev/null", path.encode(), None, MS_BIND)
        return f"{len(paths)} grader path(s) hidden by a mount namespace"
    except OSError:
        missing.append("mount namespace (grader files hidden by permissions only)")
        return "no mount namespace"


def _mount(source: bytes, target: bytes, fstype, flags: int, data=None) -> None:
    if _libc.mount(source, target, fstype, flags, data) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target!r} failed")


def _new_network_namespace(in_user_namespace: bool = False) -> bool:
    """Only root, or a process in a user namespace of its own, can; Docker's default profile (Gradescope) usually
    forbids it even then."""
    return (os.geteuid() == 0 or in_user_namespace) and _libc is not None and _libc.unshare(CLONE_NEWNET) == 0


def _private_shm(size: int) -> bool:
    """Without a sandbox user the machine's /dev/shm holds the TA's own shared memory, so Landlock keeps it closed;
    where unprivileged user namespaces are allowed, the child gets a /dev/shm of its own instead: a tmpfs (at most
    `size` bytes, a quarter of the notebook's memory limit: the TA's RAM, outside RLIMIT_AS) in a mount namespace
    owned by a user namespace where it keeps its uid.
    multiprocessing's semaphores and DataLoader workers need it. It dies with the last process of the grading.
    Must run while the process has one thread (unshare refuses a user namespace otherwise). A forked copy tries it
    first: where a namespace can be made but not completed (Ubuntu 24.04's AppArmor rule leaves it without
    capabilities), the child must not be left in it."""
    if _libc is None or _threads() != 1 or not _works_in_a_fork(lambda: _enter_private_shm(size)):
        raise OSError("no user namespace")
    _enter_private_shm(size)
    return True


def _enter_private_shm(size: int) -> None:
    uid, gid = os.geteuid(), os.getegid()
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUSER) failed")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    _mount(b"none", b"/", None, MS_REC | MS_PRIVATE)
    options = f"size={size},nr_inodes=4096,mode=1777".encode()
    _mount(b"tmpfs", b"/dev/shm", b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options)


def _works_in_a_fork(attempt, seconds: float = 10.0) -> bool:
    pid = os.fork()
    if pid == 0:
        try:
            attempt()
            os._exit(0)
        except BaseException:  # noqa: BLE001  -- whatever it was, the copy only says it failed
            os._exit(1)
    for _ in range(int(seconds / 0.01)):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) == 0
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return False


def _drop_capabilities() -> bool:
    """unshare gave this process every capability inside its user namespace (mounts, its network namespace's
    settings): the notebook gets none of them."""
    header = struct.pack("Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    if _libc.capset(header, bytes(24)) != 0:  # two empty {effective, permitted, inheritable}
        raise OSError(ctypes.get_errno(), "capset failed")
    return True


def _block_sockets(unix: bool) -> bool:
    """A seccomp filter: socket() fails with EACCES for every address family but AF_UNIX (AF_INET, AF_INET6,
    AF_VSOCK, AF_PACKET, AF_NETLINK, ...), and for AF_UNIX too unless `unix` (a sandbox user in a network
    namespace): abstract Unix sockets, or the TA's own, would reach listeners outside the sandbox, so Unix sockets
    come only from socketpair(), which is allowed (multiprocessing's Pipe and Queue use socketpair() and pipes)."""
    arch, seccomp_nr, (socket_nr, io_uring_nr) = _ARCH[platform.machine()]
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | EACCES
    program = [
        (ld, 0, 0, 4),  # 0: arch
        (jeq, 1, 0, arch),  # 1: native arch -> 3
        (ret, 0, 0, deny),  # 2: other ABIs (i386 int 0x80, its socketcall) are refused
        (ld, 0, 0, 0),  # 3: syscall number
        (jge, 5, 0, 0x40000000),  # 4: x32 ABI -> deny
        (jeq, 4, 0, io_uring_nr),  # 5: io_uring can open sockets -> deny
        (jeq, 0, 2, socket_nr),  # 6: socket() -> 7, else allow
        (ld, 0, 0, 16),  # 7: first argument, low 32 bits (the kernel reads an int)
        (jeq, 0 if unix else 1, 1, AF_UNIX),  # 8: AF_UNIX -> allow if `unix`, else deny; others deny
        (ret, 0, 0, allow),  # 9
        (ret, 0, 0, deny),  # 10
    ]
    raw = b"".join(struct.pack("HBBI", *ins) for ins in program)
    buffer = ctypes.create_string_buffer(raw)
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))
    fprog_buffer = ctypes.create_string_buffer(fprog)
    if _libc.syscall(seccomp_nr, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, fprog_buffer) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter could not be installed")
    return True
