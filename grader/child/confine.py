"""Runs inside the child, before it reads any student code: resource limits, no network, unprivileged user.

Returns a description of what is in force, for the instructor-only log.
"""
import ctypes
import os
import platform
import resource
import struct

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC = 1, 1
# arch: (AUDIT_ARCH value, seccomp syscall, blocked syscalls: socket, io_uring_setup)
_ARCH = {"x86_64": (0xC000003E, 317, (41, 425)), "aarch64": (0xC00000B7, 277, (198, 425))}
AF_UNIX, EACCES = 1, 13


def confine(config: dict) -> dict:
    limits = config["limits"]
    done = {"user": "unchanged (not root)" if os.geteuid() else "root"}
    done["network"] = "namespace" if _new_network_namespace() else "no namespace"
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")
    for name, value in (("RLIMIT_CPU", limits["cpu_seconds"]), ("RLIMIT_AS", limits["memory_bytes"]),
                        ("RLIMIT_NPROC", limits["processes"]), ("RLIMIT_FSIZE", limits["file_bytes"]),
                        ("RLIMIT_NOFILE", limits["open_files"]), ("RLIMIT_CORE", 0)):
        resource.setrlimit(getattr(resource, name), (value, value))
    os.chdir(config["workdir"])
    os.umask(0o077)
    if config.get("uid") is not None:
        os.setgroups([])
        os.setgid(config["gid"])
        os.setuid(config["uid"])
        done["user"] = f"uid {config['uid']}"
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    namespace = done["network"] == "namespace"
    _block_sockets(namespace)
    done["network"] += (" + seccomp (socket() refused for every family but AF_UNIX; io_uring refused)" if namespace
                        else " + seccomp (socket() refused for every family, AF_UNIX included: Unix sockets only "
                             "through socketpair(); io_uring refused)")
    done["limits"] = dict(limits)
    return done


def _new_network_namespace() -> bool:
    """Only root can; Docker's default profile (Gradescope) usually forbids it even then."""
    return os.geteuid() == 0 and _libc.unshare(CLONE_NEWNET) == 0


def _block_sockets(namespace: bool):
    """A seccomp filter: socket() fails with EACCES for every address family but AF_UNIX (AF_INET, AF_INET6,
    AF_VSOCK, AF_PACKET, AF_NETLINK, ...), and for AF_UNIX too without a network namespace (`namespace` False):
    abstract Unix sockets then reach listeners outside the sandbox, so Unix sockets come only from socketpair(),
    which is allowed (multiprocessing's Pipe and Queue use socketpair() and pipes)."""
    arch, seccomp_nr, (socket_nr, io_uring_nr) = _ARCH[platform.machine()]
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | EACCES
    program = [
        (ld, 0, 0, 4),                    # 0: arch
        (jeq, 1, 0, arch),                # 1: native arch -> 3
        (ret, 0, 0, deny),                # 2: other ABIs (i386 int 0x80, its socketcall) are refused
        (ld, 0, 0, 0),                    # 3: syscall number
        (jge, 5, 0, 0x40000000),          # 4: x32 ABI -> deny
        (jeq, 4, 0, io_uring_nr),         # 5: io_uring can open sockets -> deny
        (jeq, 0, 2, socket_nr),           # 6: socket() -> 7, else allow
        (ld, 0, 0, 16),                   # 7: first argument, low 32 bits (the kernel reads an int)
        (jeq, 0 if namespace else 1, 1, AF_UNIX),   # 8: AF_UNIX -> allow if namespace, else deny; others deny
        (ret, 0, 0, allow),               # 9
        (ret, 0, 0, deny),                # 10
    ]
    raw = b"".join(struct.pack("HBBI", *ins) for ins in program)
    buffer = ctypes.create_string_buffer(raw)
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))
    fprog_buffer = ctypes.create_string_buffer(fprog)
    if _libc.syscall(seccomp_nr, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, fprog_buffer) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter could not be installed")
