"""Sending plain data to the parent: one JSON object a line, on a pipe the parent created; and what both children do
around it (read the notebook or report it ungradable, end, import a probe's or reading's function by path). No
IPython here: the reader imports this module too."""

import importlib
import json
import os
import sys
from pathlib import Path

from ..notebook.locate import Sought, SubmissionProblem
from ..records import DONE, EVENTS, UNGRADABLE
from .clock import CellTimeout, time_limit


class Reporter:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._write = os.write  # kept before student code can replace os.write
        self._dumps = json.dumps
        self._getpid = os.getpid
        self.pid = os.getpid()
        self.send = self.send  # type: ignore[method-assign]  # bound now: a notebook's later patch of the class does not reach it

    def send(self, event: str, **fields) -> None:
        """One event of records.py, by its declared name (records.READY, RECORD, ...), with its fields."""
        if event not in EVENTS:
            raise ValueError(f"not a declared event: {event!r}")
        if self._getpid() != self.pid:
            return  # a process forked by the notebook does not speak for it
        data = (self._dumps({"event": event, **fields}, allow_nan=True) + "\n").encode()
        while data:
            try:
                written = self._write(self.fd, data)
            except OSError:
                return  # the notebook closed the channel; the parent will say what is missing
            data = data[written:]


def read_or_end(reporter, config: dict, read_notebook):
    """`read_notebook(workdir, sought)` under the reading time limit; a notebook that cannot be read is reported as
    ungradable, and the child ends."""
    try:
        with time_limit(config["read_timeout"], anywhere=True):
            return read_notebook(Path(config["workdir"]), Sought.of(config))
    except SubmissionProblem as problem:  # what to fix, in locate's and read's words
        reporter.send(UNGRADABLE, reason=str(problem)[:20000])
        end(reporter)
    except (CellTimeout, MemoryError, RecursionError):  # the parent says so (scoring/feedback.py, `unreadable`)
        end(reporter)


def end(reporter) -> None:
    reporter.send(DONE)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no interpreter teardown: the student's __del__ and atexit hooks do not run


def imported(path: str):
    """The function at "module:function" (a probe's, a reading's): imported before the child is confined."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
