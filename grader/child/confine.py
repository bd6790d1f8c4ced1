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
AF_INET, AF_INET6, EACCES = 2, 10, 13


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
    _block_inet_sockets()
    done["network"] += " + seccomp (AF_INET/AF_INET6 sockets refused)"
    done["limits"] = dict(limits)
    return done


def _new_network_namespace() -> bool:
    """Only root can; Docker's default profile (Gradescope) usually forbids it even then."""
    return os.geteuid() == 0 and _libc.unshare(CLONE_NEWNET) == 0


def _block_inet_sockets():
    """A seccomp filter, as Gradescope's best-practice page suggests: IPv4/IPv6 sockets fail with EACCES."""
    arch, seccomp_nr, (socket_nr, io_uring_nr) = _ARCH[platform.machine()]
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | EACCES
    program = [
        (ld, 0, 0, 4),                    # 0: arch
        (jeq, 1, 0, arch),                # 1: native arch -> 3
        (ret, 0, 0, deny),                # 2: other ABIs (i386 int 0x80) are refused
        (ld, 0, 0, 0),                    # 3: syscall number
        (jge, 7, 0, 0x40000000),          # 4: x32 ABI -> deny
        (jeq, 6, 0, io_uring_nr),         # 5: io_uring can open sockets -> deny
        (jeq, 0, 4, socket_nr),           # 6: socket() -> 7, else allow
        (ld, 0, 0, 16),                   # 7: first argument (address family)
        (jeq, 3, 0, AF_INET),             # 8: -> deny
        (jeq, 2, 0, AF_INET6),            # 9: -> deny
        (ret, 0, 0, allow),               # 10
        (ret, 0, 0, allow),               # 11 (padding keeps the offsets readable)
        (ret, 0, 0, deny),                # 12
    ]
    raw = b"".join(struct.pack("HBBI", *ins) for ins in program)
    buffer = ctypes.create_string_buffer(raw)
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))
    fprog_buffer = ctypes.create_string_buffer(fprog)
    if _libc.syscall(seccomp_nr, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, fprog_buffer) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter could not be installed")
