"""The parent's reading of the child's channel: every line validated against records.SCHEMA, in a plausible order.

Student code shares the child's process and can write to the channel too, so nothing here is trusted: each kind
of event has its own share of the channel (so the grader's per-cell events never crowd out the probes' records),
a line that does not fit the schema or comes out of order is dropped and noted, and a probe answered twice gets no
record at all (scoring then gives 0 with a message).
"""

import json
import time
from dataclasses import dataclass, field

import jsonschema

from .. import records as R

_VALIDATORS = {
    kind: jsonschema.Draft202012Validator({"$defs": R.SCHEMA["$defs"], **schema}) for kind, schema in R.EVENTS.items()
}
MIB = 1024 * 1024
# bytes each kind may use; past its share a kind's events are dropped (and the drop is noted once)
SHARES = {
    R.CELL_START: 8 * MIB,
    R.CELL_END: 16 * MIB,
    R.NOTE: 1 * MIB,
    R.PROBE_START: 64 * 1024,
    R.RECORD: 16 * MIB,
    R.NOTEBOOK: 1 * MIB,
    R.CELLS: 1024,
    R.CELLS_DONE: 1024,
    R.LOADED: 1024,
    R.UNGRADABLE: 64 * 1024,
    R.TA_FILE: 40 * MIB,
    R.READY: 64 * 1024,
    R.DONE: 1024,
}
TOTAL_BYTES = sum(SHARES.values())


def line_cap(role: str) -> int:
    """The longest line a child of this role can need: its largest event kind's share."""
    return max(SHARES[kind] for kind in R.ROLE_EVENTS[role]) + 1024


def split_lines(chunks, cap: int):
    """The lines of a stream of byte chunks, in time and memory linear in its bytes: a line's pieces are joined
    once, at its newline. A line longer than `cap` is skipped to its end and yielded as None."""
    pending, size = [], 0
    for chunk in chunks:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if size <= cap:
                pending.append(piece)
            size += len(piece)
            if end < 0:
                break
            yield b"".join(pending) if size <= cap else None
            pending, size, start = [], 0, end + 1


@dataclass
class ChildReport:
    """Everything the parent learned from one child (a reader or a runner, records.ROLE_EVENTS), as plain data."""

    role: str = "runner"
    isolation: dict | None = None
    notebook: dict | None = None  # records.NotebookInfo (from the reader)
    cell_count: int | None = None  # the code cells the runner will run
    cells_done: bool = False  # the runner says its last cell has ended
    loaded: bool = False  # the reader holds the notebook's text
    ungradable: str | None = None  # why the notebook could not be read (the child's words)
    cells: dict = field(default_factory=dict)  # cell number -> cell_end event, for cells that did not end ok
    last_cell: int = 0  # the last cell that started
    records: dict = field(default_factory=dict)  # probe -> records.Record
    notes: list = field(default_factory=list)  # skipped magics, Colab calls (student-derived text)
    ta_files: dict = field(default_factory=dict)  # name -> base64 text
    running: tuple | None = None  # ("cell", 12), ("probe", name) or ("read", 0)
    done: bool = False
    problems: list = field(default_factory=list)  # how the channel was misused: (code, detail); scoring words them
    cell_limit: float | None = None  # seconds past which the parent itself counts a cell as stopped at its limit
    overdue: dict = field(default_factory=dict)  # cell -> seconds it ran by the parent's clock, past cell_limit
    _loop_at: float = 0.0  # when the cell loop's last event arrived (the first cell_start, then each cell_end)
    _used: dict = field(default_factory=dict)
    _answered: set = field(default_factory=set)

    def add_line(self, line: bytes) -> None:
        try:
            event = json.loads(line)
            kind = event["event"] if isinstance(event, dict) else None
            if kind not in SHARES:
                raise ValueError(kind)
            if kind not in R.ROLE_EVENTS[self.role]:
                return self._problem(("unexpected", kind))
            self._used[kind] = self._used.get(kind, 0) + len(line)
            if self._used[kind] > SHARES[kind]:
                return self._problem(("too_much", kind))
            if not _plain_progress(kind, event):
                _VALIDATORS[kind].validate(event)
        except (ValueError, KeyError, TypeError, RecursionError, jsonschema.ValidationError):
            return self._problem(("tampered",))
        if not self._in_order(kind, event):
            return self._problem(("tampered",))
        getattr(self, "_" + kind)(event)

    def _in_order(self, kind: str, event: dict) -> bool:
        """The child's own sequence: ready, then notebook (or ungradable), cells in increasing order, probes, done."""
        if kind == R.READY:
            return self.isolation is None and not self._used.keys() - {R.READY}
        if self.isolation is None or self.done:
            return False
        if kind == R.LOADED:
            return not self.loaded and self.notebook is None and self.ungradable is None
        if kind in (R.NOTEBOOK, R.CELLS, R.UNGRADABLE):
            return self.notebook is None and self.cell_count is None and self.ungradable is None
        if kind == R.CELL_START:
            return (
                not self.cells_done
                and self.cell_count is not None
                and self.last_cell < event["cell"] <= (self.cell_count)
            )
        if kind == R.CELL_END:
            return self.running == ("cell", event["cell"])
        if kind == R.CELLS_DONE:
            return (
                not self.cells_done and self.cell_count is not None and self.running in (None, ("cell", self.last_cell))
            )
        if kind in (R.PROBE_START, R.RECORD):
            return self.cells_done
        return True

    def _ready(self, event) -> None:
        self.isolation = event["isolation"]
        self.running = ("read", 0)

    def _notebook(self, event) -> None:
        self.notebook, self.running = event["info"], None

    def _loaded(self, event) -> None:
        self.loaded = True

    def _cells(self, event) -> None:
        self.cell_count, self.running = event["count"], None

    def _cells_done(self, event) -> None:
        self._unended((self.cell_count or 0) + 1)
        self.cells_done = True

    def _ungradable(self, event) -> None:
        self.ungradable, self.running = event["reason"], None

    def _cell_start(self, event) -> None:
        self._unended(event["cell"])
        self._loop_at = self._loop_at or time.monotonic()  # the clock starts with the first cell, not the shell
        self.last_cell = event["cell"]
        self.running = ("cell", event["cell"])

    def _cell_end(self, event) -> None:
        if event["status"] != "ok":
            self.cells[event["cell"]] = event
        self._timed(event["cell"], event["status"])
        self.running = None

    def _unended(self, upto: int) -> None:
        """Cells before `upto` (the next to start, or past the last) that ended unreported: the running one and any
        never started. The runner reports every cell, so the notebook's process changed its own reporting: the
        parent says so, and times them itself."""
        if any(problem[0] == "too_much" for problem in self.problems):
            return  # events past the channel's share were dropped by the parent: that is said already
        missing = list(range(self.last_cell + 1, upto))[:1000]
        if self.running and self.running[0] == "cell":
            missing.insert(0, self.running[1])
        message = "the notebook's process did not report how this cell ended (its reporting was changed)"
        for cell in missing:
            self.cells[cell] = {"cell": cell, "status": "error", "error": {"type": "NotReported", "message": message}}
        if missing:
            self._problem(("unended", missing[0]))
            self._timed(missing[-1], "error")

    def _timed(self, cell: int, status: str) -> None:
        """A cell that ran past its limit by the parent's clock was stopped there, whatever the runner says."""
        now, started = time.monotonic(), self._loop_at
        self._loop_at = now
        if not started or self.cell_limit is None or now - started <= self.cell_limit or status == "timeout":
            return
        self.overdue[cell] = now - started
        message = (
            f"by the grader's clock, {now - started:.0f} s passed before the notebook's process reported anything "
            "after this cell, past its time limit (the process did not report it stopped)"
        )
        self.cells[cell] = {
            **self.cells.get(cell, {"cell": cell}),
            "status": "timeout",
            "error": {"type": "Timeout", "message": message, "cell": cell, "line": None},
        }

    def _note(self, event) -> None:
        if len(self.notes) < 100:
            self.notes.append(event)

    def _probe_start(self, event) -> None:
        self.running = ("probe", event["probe"])

    def _record(self, event) -> None:
        probe = event["probe"]
        if probe in self._answered:
            self.records.pop(probe, None)
            self._problem(("twice", probe))
        else:
            self.records[probe] = event["data"]
        self._answered.add(probe)
        self.running = None

    def _ta_file(self, event) -> None:
        self.ta_files[event["name"]] = event["base64"]

    def _done(self, event) -> None:
        self.done = True
        self.running = None

    def _problem(self, problem: tuple) -> None:
        if problem not in self.problems and len(self.problems) < 10:
            self.problems.append(problem)


def _plain_progress(kind: str, event: dict) -> bool:
    """The one event of every cell, checked by hand: jsonschema would cost the parent 0.1 ms a cell."""
    if kind == R.CELL_START:
        cell = event.get("cell")
        return len(event) == 2 and type(cell) is int and 1 <= cell <= R.MAX_CELLS
    if kind == R.CELL_END and event.get("status") == "ok":
        cell, seconds = event.get("cell"), event.get("seconds")
        return len(event) == 4 and type(cell) is int and 1 <= cell <= R.MAX_CELLS and type(seconds) is float
    return False
