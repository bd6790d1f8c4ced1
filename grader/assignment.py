"""What the engine knows of an assignment: one object, `ASSIGNMENT`, in the module the settings name.

The engine (sandbox, children, channel, scoring loop, results, batch, report) imports no assignment by name: it
calls `load(path)` with `Settings.assignment`: `--assignment`, else the environment variable GRADER_ASSIGNMENT, else
the course's own, which `DEFAULT` in the top-level `assignments/__init__.py` names. The parent loads the object: it
draws the inputs and scores the lines. The children never import it (nor the checks and reference it holds): the
runner imports each probe's function by its path (`Assignment.calls`), the reader the functions of its readings
(`Assignment.reading_paths`) and is given the names the probes call and the notebook's file name. What the engine
shows the staff of an assignment's own findings (its flags, the answer graded by hand, the causes of failures) it
gets through the hooks declared here. README "Adding a probe" and "Adding a rubric line" show the steps.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema


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


@dataclass(frozen=True)
class Reading:
    """One analysis of the notebook's text, declared once: the reader child calls `read` (never student code, under
    its time and memory limits) and sends the result in NotebookInfo.readings; the parent checks it against
    `schema` before a check may use it (`Assignment.reading`)."""

    name: str  # its key in NotebookInfo.readings
    read: Callable  # (notebook.read.Text) -> plain JSON data, small (records.MAX_READING shape) (reader child)
    schema: dict  # a JSON schema the result meets; None (could not be read) always passes


@dataclass(frozen=True)
class Flag:
    """Something for the course staff to look at that the assignment finds: listed in extra_data.flags, grades.csv
    and the class report, with the lines of the notebook it rests on."""

    code: str  # extra_data.flags; "[a-z_]+"
    label: str  # what the report calls it
    details: str  # what the report says it means for the score
    raised: Callable  # (Submission) -> (who saw it: "reader" | "runner", [evidence lines]) or None


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
    title: str = "Assignment"  # how the staff's pages name it
    readings: tuple[Reading, ...] = ()  # what the reader finds in the notebook's text for the checks
    flags: tuple[Flag, ...] = ()
    by_hand: str | None = None  # the rubric line whose answer the staff grade by hand (answers.html), if any
    answer: Callable | None = None  # (Submission) -> that answer's text, or None when none was found
    cause: Callable | None = None  # (line number, output) -> the cause a failure counts under in the report, or None
    hint: Callable | None = None  # (Submission, error) -> a sentence for an error its handout explains, or ""

    def __post_init__(self):
        names = [p.name for p in self.probes]
        if len(set(names)) != len(names):
            raise ValueError(f"two probes share a name: {names}")
        unknown = [line.number for line in self.lines if line.probe and line.probe not in names]
        if unknown:
            raise ValueError(f"rubric lines {unknown} read a probe that is not declared")
        readings = [r.name for r in self.readings]
        if len(set(readings)) != len(readings):
            raise ValueError(f"two readings share a name: {readings}")

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
    def reading_paths(self) -> dict:
        """{reading name: "module:function"}: what the reader imports before it is confined (never the rubric)."""
        return {r.name: f"{r.read.__module__}:{r.read.__qualname__}" for r in self.readings}

    def reading(self, notebook: dict | None, name: str):
        """The reader's result of reading `name`, when it meets the reading's schema; else None."""
        found = ((notebook or {}).get("readings") or {}).get(name)
        schema = next((r.schema for r in self.readings if r.name == name), None)
        if found is None or schema is None:
            return None
        try:
            jsonschema.validate(found, schema)
        except jsonschema.ValidationError:
            print(f"[grader] the reading {name!r} does not meet its schema: not used")
            return None
        return found

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
