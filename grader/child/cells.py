"""Run the notebook's cells like Kernel > Restart & Run All, through IPython's own InteractiveShell.

The shell is the one Jupyter's kernel uses (magics, autoawait, display, get_ipython), without a kernel or ZMQ. What
differs from Jupyter, on purpose: a failing cell does not stop the run, every cell has a time limit, shell escapes
and package installers are skipped with a note (there is no network), Colab-only calls do nothing, and a package
Colab has that the grader does not imports as a stand-in that fails only where it is used (stand_ins.py).
"""

import fnmatch
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import NoReturn

from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.text import SList
from traitlets.config import Config

from ..records import CELL_END, CELL_START, Error
from . import colab, shared_memory, stand_ins
from .clock import UNINTERRUPTED, CellTimeout, time_limit
from .errors import describe, leave_if_forked
from .report import Reporter

UNINTERRUPTED.add(__file__)

FULL_ERRORS = 20  # later failing cells are described briefly: the channel's budget must keep room for the checks
# Shell escapes and installers: skipped with a note. Every other magic runs as in Jupyter.
SKIPPED_MAGICS = (
    "bash",
    "sh",
    "script",
    "system",
    "sx",
    "sc",
    "pip",
    "conda",
    "mamba",
    "micromamba",
    "uv",
    "perl",
    "ruby",
    "python2",
    "python3",
    "pypy",
)


class GradingShell(InteractiveShell):
    """IPython's shell, with the grader's few differences (see the module's docstring)."""

    def init_grading(self, note) -> None:
        self.note = note
        self.kernel = _Kernel(note)
        self.cell = 0
        # the last exception IPython showed a traceback for (in %%time, in a display, ...)
        self.shown: BaseException | None = None
        for kind in ("line", "cell"):
            for name in SKIPPED_MAGICS:
                if name in self.magics_manager.magics[kind]:
                    self.magics_manager.magics[kind][name] = self._skip_magic(name, kind)
        self.user_ns.update(exit=_exit_cell, quit=_exit_cell)
        self.db = _MemoryDB()  # %store, loaded by Jupyter's kernel too, keeps its values for this run only
        self.extension_manager.load_extension("storemagic")
        self.register_magic_function(
            lambda line="": note("`%connect_info` was skipped (the grader runs no Jupyter kernel)."),
            "line",
            "connect_info",
        )

    def showtraceback(self, exc_tuple=None, *args, **kwargs) -> None:
        """Jupyter shows a traceback for an error however IPython caught it: each counts as a failed cell."""
        try:
            self.shown = self._get_exc_info(exc_tuple)[1]
        except ValueError:
            pass
        super().showtraceback(exc_tuple, *args, **kwargs)

    def showsyntaxerror(self, *args, **kwargs) -> None:
        self.shown = sys.exc_info()[1] or self.shown
        super().showsyntaxerror(*args, **kwargs)

    def enable_matplotlib(self, gui=None):
        """Jupyter's interactive backends (`notebook`, `widget`, `ipympl`, `qt`, ...) need a browser or a display;
        the grader draws every figure with the inline backend, as `%matplotlib inline` does."""
        if gui not in (None, "inline", "auto"):
            self.note(f"`%matplotlib {gui}`"[:80] + " ran as `%matplotlib inline` (the grader has no display).")
        return super().enable_matplotlib("inline")

    def _skip_magic(self, name, kind):
        prefix = "%%" if kind == "cell" else "%"

        def skip(line="", cell=None) -> None:
            self.note(
                f"magic `{prefix}{name} {line.strip()}`"[:120] + " was skipped (the grader runs no shell "
                "commands or installs; every package the assignment needs is installed)."
            )

        return skip

    def system(self, cmd) -> None:
        self.note(f"shell command `!{cmd.strip()}`"[:120] + " was skipped (the grader runs no shell commands).")
        self.user_ns["_exit_code"] = 0

    def getoutput(self, cmd: str, split: bool = True, depth: int = 0) -> SList | str:
        self.system(cmd)
        return SList() if split else ""

    def enable_gui(self, gui=None) -> None:
        pass  # as in Jupyter's kernel: `%matplotlib inline` needs no GUI event loop

    def transform_cell(self, raw_cell: str) -> str:
        limit = time_limit.active  # reading a cell can be slow: it counts in the cell's time, interrupted anywhere
        if limit is None:
            return super().transform_cell(raw_cell)
        limit.anywhere = True
        try:
            return super().transform_cell(raw_cell)
        finally:
            limit.anywhere = False


class _MemoryDB(dict):
    """What `%store` needs of IPython's PickleShareDB, in memory."""

    def keys(self, pattern="*"):
        return [key for key in super().keys() if fnmatch.fnmatch(key, pattern)]


class _Inert:
    """Stands for a kernel's sockets, session and comm manager: every call does nothing."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Inert()

    def __call__(self, *args, **kwargs):
        return None


class _Kernel:
    """`get_ipython().kernel`: Colab's "restart the runtime" idiom does nothing here."""

    def __init__(self, note) -> None:
        self.note = note
        self.iopub_socket = self.shell_socket = self.session = self.comm_manager = _Inert()

    def do_shutdown(self, restart=False) -> None:
        self.note("`get_ipython().kernel.do_shutdown()` was skipped (the grader runs the notebook once).")


def _exit_cell(*args) -> NoReturn:
    raise SystemExit(*args)


def new_shell(note, missing=None) -> GradingShell:
    """`missing`: {top-level module: package} the grader stands in for (Assignment.packages.stand_ins)."""
    config = Config()
    config.HistoryManager.enabled = False  # no sqlite file in the scratch folder
    config.InteractiveShell.colors = "NoColor"
    config.InteractiveShell.xmode = "Plain"
    shell = GradingShell.instance(config=config)
    shell.init_grading(note)
    colab.install(note)
    stand_ins.install(missing or {})
    shell.ast_transformers.append(colab.LocalImportCheck(note, missing or {}))
    _tensors_by_value_without_unix_sockets()
    shared_memory.adapt(note)
    return shell


def _tensors_by_value_without_unix_sockets() -> None:
    """DataLoader workers (num_workers > 0) send each batch to the notebook through a multiprocessing queue. torch
    pickles a tensor there as a file descriptor, passed over a Unix socket that multiprocessing's resource_sharer
    creates with socket(); where confine.py refuses that (no network namespace), the batch would never arrive and
    the cell would hang. Without torch's reducers, tensors go through the queue by value, as pickle sends them."""
    try:
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()
        return
    except OSError:
        pass
    from multiprocessing.reduction import ForkingPickler

    import torch
    import torch.multiprocessing  # noqa: F401  -- registers torch's reducers (once, at import), removed below

    for kind in (*torch._storage_classes, torch.storage.TypedStorage, *torch._tensor_classes, torch.Tensor):
        ForkingPickler._extra_reducers.pop(kind, None)  # type: ignore[attr-defined]  # private: no stub has it
    ForkingPickler._extra_reducers.pop(torch.nn.Parameter, None)  # type: ignore[attr-defined]


def run_cells(
    shell: GradingShell, cells: list, reporter: Reporter, timeout: float, defined_names: Callable, skip=()
) -> dict:
    """cells: [(number, source)]. Reports cell_start/cell_end events; failed cells carry what they define.
    `skip`: cells not run at all (they caught their interrupt in an earlier run: grade.py runs the notebook again).

    Returns {cell number: short reason} for the cells that did not end normally."""
    # bound before the first cell runs: a cell that replaces these names in the modules does not reach this loop
    send, limit, timed_out, undone, described, first, now = (
        reporter.send,
        time_limit,
        CellTimeout,
        leave_if_forked,
        describe,
        first_line,
        time.monotonic,
    )
    is_a, raised_in, run_cell = isinstance, _raised_in, type(shell).run_cell
    failures, failed = 0, {}
    for number, source in cells:
        shell.cell = number
        send(CELL_START, cell=number)
        print(f"\n----- cell {number} -----", flush=True)
        started = now()
        status, by_argparse = "ok", False
        error: Error | None = None
        shell.execution_count = number  # IPython names the code <ipython-input-NUMBER-...>
        shell.shown = None
        try:
            if number in skip:
                raise timed_out()
            with limit(timeout):
                result = run_cell(shell, source, store_history=True)
            exc = result.error_before_exec or result.error_in_exec or shell.shown
        except timed_out as timeout_exc:  # raised while IPython read the cell
            exc = timeout_exc
        except BaseException as other:  # noqa: BLE001  -- a student's cell may raise anything, anywhere
            exc = other
        undone()
        if number in skip:
            status, error = (
                "timeout",
                {
                    "type": "Timeout",
                    "message": f"cell {number} ran longer than {timeout:.0f} s and did not stop when interrupted "
                    "(it catches the interrupt); the notebook was run again from a fresh start without it",
                    "cell": number,
                    "line": None,
                },
            )
        elif is_a(exc, SystemExit):
            status = "exit"  # as in the grader's promise: exit() ends the cell, not the notebook
            by_argparse = raised_in(exc, "argparse.py")  # type: ignore[arg-type]  # is_a (isinstance) found one
        elif is_a(exc, timed_out):
            status, error = (
                "timeout",
                {
                    "type": "Timeout",
                    "message": f"cell {number} ran longer than {timeout:.0f} s",
                    "cell": number,
                    "line": None,
                },
            )
        elif exc is not None:
            status, error = "error", described(exc, brief=failures >= FULL_ERRORS)
            failures += 1
        end = {"cell": number, "status": status, "seconds": now() - started}
        if error:
            end.update(error=error, first_line=first(source), defines=defined_names(source)[:200])
            failed[number] = f"{error['type']}: {error['message']}"[:300]
        elif status == "exit":
            end.update(first_line=first(source), defines=defined_names(source)[:200])
            if by_argparse:
                end["exit_by"] = "argparse"
            failed[number] = "argparse's parse_args() ended the cell" if by_argparse else "exit() was called"
        send(CELL_END, **end)
    return failed


def _raised_in(exc: BaseException, module_file: str) -> bool:
    try:
        return any(f.filename.endswith("/" + module_file) for f in traceback.extract_tb(exc.__traceback__))
    except Exception:  # noqa: BLE001  -- a hostile exception may fail even to show its traceback
        return False


def first_line(source: str) -> str:
    for line in source[:100_000].splitlines():
        if line.strip():
            return line.strip()[:80]
    return ""
