"""Whether this kernel offers Landlock: the child confines itself with it (child/confine.py), the batch refuses to
grade a class where nothing would confine the notebooks' files (batch.py)."""

import ctypes
import ctypes.util
import platform
from typing import Any

_libc: Any  # libc, or None without one: a call then raises AttributeError (confine.py: "not on this platform")
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
except OSError:
    _libc = None
LANDLOCK_CREATE_RULESET, LANDLOCK_CREATE_RULESET_VERSION = 444, 1  # the same syscall number on every architecture


def landlock_abi() -> int:
    """The Landlock ABI this kernel offers, 0 without Landlock (another OS, a kernel before 5.13, disabled)."""
    if _libc is None or not platform.system() == "Linux":
        return 0
    version = _libc.syscall(LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), LANDLOCK_CREATE_RULESET_VERSION)
    return max(version, 0)
