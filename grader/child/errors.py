"""What the runner says of an exception, and of a copy of itself a cell forked: light (no IPython), so the parent
can import the probes' modules too."""

import os
import re
import traceback

from ..records import Error
from .clock import CELL_FILE

_OWNER, _getpid, _exit = os.getpid(), os.getpid, os._exit  # kept before student code can replace them
CELL_FILE_IN_TEXT = re.compile(r"<ipython-input-(\d+)-[0-9a-f]+>")


def own_process() -> None:
    """This process is the runner (a warm start's fork: the process that imported this module is another)."""
    global _OWNER
    _OWNER = _getpid()


def leave_if_forked() -> None:
    """A copy of this process forked by a cell comes back here when the cell ends: it must not go on."""
    if _getpid() != _OWNER:
        _exit(0)


def describe(exc: BaseException, brief: bool = False) -> Error:
    """The exception, with only the traceback frames that belong to the student's cells (none when brief)."""
    try:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if CELL_FILE.match(f.filename)]
        where = (exc.filename or "", exc.lineno) if isinstance(exc, SyntaxError) else (None, None)
        if not CELL_FILE.match(where[0] or "") and frames:
            where = (frames[-1].filename, frames[-1].lineno)
        in_cell = CELL_FILE.match(where[0] or "")
        cell, line = (int(in_cell.group(1)), where[1]) if in_cell else (None, None)
        text = "".join(traceback.format_list(frames[-5:]) + traceback.format_exception_only(type(exc), exc))
        text = CELL_FILE_IN_TEXT.sub(lambda m: f"cell {m.group(1)}", text)
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)  # str() repeats file and line
        described: Error = {
            "type": type(exc).__name__[:200],
            "message": str(message)[: 200 if brief else 2000],
            "cell": cell,
            "line": line if isinstance(line, int) else None,
            "traceback": "" if brief else text[-6000:],
        }
        if isinstance(exc, OSError) and type(exc.filename) is str:
            described["filename"] = exc.filename[:500]
        return described
    except BaseException:  # noqa: BLE001  -- a hostile exception may fail even to print itself
        return {"type": "Exception", "message": "(the exception could not be described)", "cell": None, "line": None}
