"""What the engine knows of an assignment: one object, `ASSIGNMENT`, in the module the settings name.

The engine (sandbox, children, channel, scoring loop, results, batch, report) imports no assignment by name: it
calls `load(path)` with `Settings.assignment`: `--assignment`, else the environment variable GRADER_ASSIGNMENT, else
the course's own, which `DEFAULT` in the top-level `assignments/__init__.py` names. The parent loads the object: it
draws the inputs and scores the lines. The children never import it (nor the checks and reference it holds): the
runner imports each probe's function by its path (`Assignment.calls`), the reader is given the names the probes call
and the notebook's file name. README "Adding a probe" and "Adding a rubric line" show the steps.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Probe:
    """One call of the student's objects, declared once: the child runs `call`, the parent draws its inputs and
    names it in messages; the reader finds the cells that define `needs`."""

    name: str  # the record's key, and what rubric lines name
    needs: tuple[str, ...]  # the notebook's names it calls; the first is the one messages say is missing
    called: str  # how messages name the grader's call
    draw: Callable  # (numpy Generator) -> the inputs, as arrays (parent)
    call: Callable  # (torch, notebook namespace, inputs as lists) -> records.Record (child)


@dataclass(frozen=True)
class Line:
    """One rubric line. `{tolerance}` and `{points}` in its name are written as the line's numbers."""

    number: str
    name: str
    points: float
    check: Callable  # (Submission, Line) -> what was verified; raises CheckFailed
    probe: str | None = None
    tolerance: float | None = None
    visibility: str = "visible"  # "hidden", "after_due_date", "after_published"

    def __post_init__(self):
        object.__setattr__(self, "name", self.name.format(tolerance=f"{self.tolerance:g}" if self.tolerance else "",
                                                          points=f"{self.points:g}"))  # fmt: skip


@dataclass
class Assignment:
    probes: tuple[Probe, ...]  # run in this order
    lines: tuple[Line, ...]
    tests: Path  # the folder of its weighted unittest cases
    notebook: str | None = None  # the file name the handout gives ("hw1.ipynb"): graded first, named in messages
    handout_code: str | None = None  # the handout's code fingerprint (scan.code_fingerprint), if known
    stdout_visibility: str = "hidden"  # the grader's own log; Gradescope shows it to instructors only
    leaderboard: Callable | None = None  # (Submission) -> [{"name", "value", "order"}], or None
    options: dict = field(default_factory=dict)  # the assignment's own policies, read by its checks
    hint: Callable | None = None  # (error) -> a sentence for an error the assignment's handout explains, or ""

    def __post_init__(self):
        names = [p.name for p in self.probes]
        if len(set(names)) != len(names):
            raise ValueError(f"two probes share a name: {names}")
        unknown = [line.number for line in self.lines if line.probe and line.probe not in names]
        if unknown:
            raise ValueError(f"rubric lines {unknown} read a probe that is not declared")

    @property
    def rubric(self) -> dict:
        return {line.number: line for line in self.lines}

    @property
    def probe(self) -> dict:
        return {p.name: p for p in self.probes}

    @property
    def calls(self) -> dict:
        """{probe name: "module:function"}: what the runner imports before it is confined (never the rubric)."""
        return {p.name: f"{p.call.__module__}:{p.call.__qualname__}" for p in self.probes}

    @property
    def checked_names(self) -> tuple[str, ...]:
        """The notebook names the probes call, in order, each once: the reader finds their defining cells."""
        return tuple(dict.fromkeys(name for p in self.probes for name in p.needs))


def load(path: str | None = None) -> Assignment:
    """The assignment in module `path` (default: Settings.assignment: GRADER_ASSIGNMENT, else the course's)."""
    if path is None:
        from .settings import Settings

        path = Settings().assignment
    assignment = importlib.import_module(path).ASSIGNMENT
    if not isinstance(assignment, Assignment):
        raise TypeError(f"{path}.ASSIGNMENT is not a grader.assignment.Assignment")
    return assignment
