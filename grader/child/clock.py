"""The time limit of a cell (or of a phase of the child), light enough for the reader: no IPython here."""

import re
import signal
import sys

# Files whose code the interrupt never lands in: this one (its __exit__) and the shell's own (cells.py adds itself)
UNINTERRUPTED = {__file__}
CELL_FILE = re.compile(r"^<ipython-input-(\d+)-[0-9a-f]+>$")  # the file name IPython compiles cell N under


class CellTimeout(BaseException):
    """Raised in the cell when its time is up. A BaseException, so `except Exception` in student code misses it."""


class time_limit:
    """`with time_limit(s):` raises CellTimeout after s seconds, then again every half second, while a cell frame
    (or a phase marked `anywhere`, such as IPython reading the cell) is running.

    Python swallows an exception raised in an at-fork hook or a `__del__`, and in a fork loop the signal nearly
    always arrives during fork(), so its handler runs in such a hook; the exception is also raised again at the next
    line of a cell, by a trace function, which hooks never reach. Once the cell has ended, IPython's own error
    display is never interrupted."""

    REPEAT = 0.5

    def __init__(self, seconds: float, anywhere: bool = False) -> None:
        self.seconds, self.anywhere, self.armed, self.traced = seconds, anywhere, False, False

    active = None  # the time_limit in force (they do not nest)

    def __enter__(self):
        signal.signal(signal.SIGALRM, self._interrupt)
        time_limit.active = self
        self.armed = True
        signal.setitimer(signal.ITIMER_REAL, self.seconds, self.REPEAT)
        return self

    def __exit__(self, *exc_info):
        self.armed = False
        time_limit.active = None
        signal.setitimer(signal.ITIMER_REAL, 0)
        if self.traced:
            sys.settrace(None)

    def _interrupt(self, signum, frame) -> None:
        if not self.armed or (frame is not None and frame.f_code.co_filename in UNINTERRUPTED):
            return
        if not self.anywhere and not _in_cell(frame):
            return
        sys.settrace(self._trace)
        self.traced = True
        while frame is not None:
            frame.f_trace = self._trace
            frame = frame.f_back
        raise CellTimeout()

    def _trace(self, frame, event, arg):
        if self.armed and CELL_FILE.match(frame.f_code.co_filename):
            raise CellTimeout()
        return self._trace


def _in_cell(frame) -> bool:
    for _ in range(10_000):
        if frame is None:
            return False
        if CELL_FILE.match(frame.f_code.co_filename):
            return True
        frame = frame.f_back
    return True
