"""Runs inside the child, before it reads any student code: resource limits, no network, unprivileged user, and
the grader's own files out of sight.

Each protection is applied where the platform offers it (Linux as root: all of them; a TA's laptop, macOS or a
container without CAP_SYS_ADMIN: fewer), and what was not in force is said in the report, for the log.
"""

import ctypes
import ctypes.util
import os
import platform
import resource
import struct

try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
except OSError:
    _libc = None
CLONE_NEWNET, CLONE_NEWNS = 0x40000000, 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC = 1, 1
# arch: (AUDIT_ARCH value, seccomp syscall, blocked syscalls: socket, io_uring_setup)
_ARCH = {"x86_64": (0xC000003E, 317, (41, 425)), "aarch64": (0xC00000B7, 277, (198, 425))}
AF_UNIX, EACCES = 1, 13
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
    limits, missing = config["limits"], []
    done = {"user": "unchanged (not root)" if os.geteuid() else "root"}
    done["hidden"] = _hide(config.get("hide", []), missing)
    namespace = _attempt(_new_network_namespace, missing, "network namespace")
    done["network"] = "namespace" if namespace else "no namespace"
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
    privileges_fixed = _attempt(_no_new_privs, missing, "no_new_privs")  # seccomp needs it
    if _attempt(lambda: privileges_fixed and _block_sockets(namespace), missing, "seccomp network filter"):
        done["network"] += (
            " + seccomp (socket() refused for every family but AF_UNIX; io_uring refused)"
            if namespace
            else " + seccomp (socket() refused for every family, AF_UNIX included: "
            "Unix sockets only through socketpair(); io_uring refused)"
        )
    done["limits"] = dict(limits)
    done["not_in_force"] = missing
    return done


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


def _new_network_namespace() -> bool:
    """Only root can; Docker's default profile (Gradescope) usually forbids it even then."""
    return os.geteuid() == 0 and _libc is not None and _libc.unshare(CLONE_NEWNET) == 0


def _block_sockets(namespace: bool) -> None:
    """A seccomp filter: socket() fails with EACCES for every address family but AF_UNIX (AF_INET, AF_INET6,
    AF_VSOCK, AF_PACKET, AF_NETLINK, ...), and for AF_UNIX too without a network namespace (`namespace` False):
    abstract Unix sockets then reach listeners outside the sandbox, so Unix sockets come only from socketpair(),
    which is allowed (multiprocessing's Pipe and Queue use socketpair() and pipes)."""
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
        (jeq, 0 if namespace else 1, 1, AF_UNIX),  # 8: AF_UNIX -> allow if namespace, else deny; others deny
        (ret, 0, 0, allow),  # 9
        (ret, 0, 0, deny),  # 10
    ]
    raw = b"".join(struct.pack("HBBI", *ins) for ins in program)
    buffer = ctypes.create_string_buffer(raw)
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))
    fprog_buffer = ctypes.create_string_buffer(fprog)
    if _libc.syscall(seccomp_nr, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, fprog_buffer) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter could not be installed")
