"""What the engine knows of an assignment: one object, `ASSIGNMENT`, in the module the settings name.

The engine (sandbox, children, channel, scoring loop, results, batch, report) imports no assignment by name: it
calls `load(path)` with `Settings.assignment`: `--assignment`, else the environment variable GRADER_ASSIGNMENT, else
the course's own, which `DEFAULT` in the top-level `assignments/__init__.py` names. The parent loads the object: it
draws the inputs and scores the lines. The children never import it (nor the checks and reference it holds): the
runner imports each probe's function by its path (`Assignment.calls`), the reader the functions of its readings
(`Assignment.reading_paths`) and is given the names the probes call and the notebook's file name. What the engine
shows the staff of an assignment's own findings (its flags, the answer graded by hand, the causes of failures) it
gets through the hooks declared here. docs/authoring.md shows the steps; an author imports these names from
grader/kit.py.

`load` refuses an assignment whose declaration cannot work (AuthoringError, one or two sentences naming the fix):
the command line reads it before anything is graded (grader/__main__.py exits 2).
"""

import importlib
import os
import re
import textwrap
import unittest
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
    raised: Callable  # (Submission) -> (who saw it: "reader" | "runner" | "both", [evidence lines]) or None


@dataclass(frozen=True)
class Packages:
    """What a notebook may import beyond Python's own library, and why: `installed` are in requirements.txt (setup.sh
    installs them and its self-check shows this list); `stand_ins` are packages a student's environment (Colab) has
    and this assignment does not need: their import succeeds, and only a use fails, with a sentence naming the package
    (grader/child/stand_ins.py). Any other missing module fails as it does on Colab. An installed package always wins
    over its stand-in: a course whose assignment needs pandas adds it to requirements.txt and to `installed`."""

    installed: dict[str, str] = field(default_factory=dict)  # {top-level module: why the grader installs it}
    stand_ins: dict[str, str] = field(default_factory=dict)  # {top-level module: its package's name on PyPI}
    why: str = ""  # why these are stand-ins, not installed

    def __post_init__(self):
        both = sorted(set(self.installed) & set(self.stand_ins))
        if both or not all(name.isidentifier() for name in [*self.installed, *self.stand_ins]):
            raise ValueError(f"packages: a module name is not an identifier, or both installed and a stand-in: {both}")

    def self_check(self) -> tuple[list[str], list[str]]:
        """(lines describing the list on this interpreter, the installed modules it cannot find)."""
        from importlib.util import find_spec

        lines, absent = ["installed (requirements.txt):"], []
        for name, why in self.installed.items():
            found = find_spec(name) is not None
            absent += [] if found else [name]
            lines.append(f"  {name:<12} {why}" + ("" if found else "  -- NOT FOUND"))
        why = f"stand-ins (an import succeeds, a use fails with a sentence naming the package): {self.why}"
        lines += textwrap.wrap(why, 118)
        named = [f"{name} ({package})" if package != name else name for name, package in self.stand_ins.items()]
        here = [name for name in self.stand_ins if find_spec(name) is not None]
        lines += textwrap.wrap(", ".join(named), 116, initial_indent="  ", subsequent_indent="  ")
        if here:
            lines.append(f"  installed here all the same (the real one is imported): {', '.join(here)}")
        return lines, absent


class AuthoringError(ValueError):
    """A mistake in an assignment's declaration; the message names it and the fix."""


@dataclass
class Assignment:
    probes: tuple[Probe, ...]  # run in this order
    lines: tuple[Line, ...]
    tests: Path | None = None  # a folder of weighted unittest cases; None: one case a line (scoring/testcase.py)
    solution: Path | None = None  # the solution notebook, with the markers `make template` reads (tools/template.py)
    template: Path | None = None  # the handout students get (`make template` makes it from the solution)
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
    packages: Packages = field(default_factory=Packages)  # what a notebook may import (installed, stand-ins)

    def __post_init__(self):
        names = [p.name for p in self.probes]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise AuthoringError(f"two probes are named {twice[0]!r}: give each Probe its own name.")
        for line in self.lines:
            if line.probe and line.probe not in names:
                raise AuthoringError(
                    f"rubric line {line.number} reads the probe {line.probe!r}, which is not declared (the probes "
                    f"are {', '.join(map(repr, names)) or 'none'}): declare it in `probes=` or fix the line's name."
                )
        numbers = [re.sub(r"\W", "_", line.number) for line in self.lines]
        twice = sorted({n for n in numbers if numbers.count(n) > 1})
        if twice:
            raise AuthoringError(f"two rubric lines are numbered {twice[0]!r}: give each Line its own number.")
        readings = [r.name for r in self.readings]
        twice = sorted({n for n in readings if readings.count(n) > 1})
        if twice:
            raise AuthoringError(f"two readings are named {twice[0]!r}: give each Reading its own name.")

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


def course_assignment() -> str:
    """The module of the assignment graded by default: the environment variable GRADER_ASSIGNMENT, else `DEFAULT` in
    the package `assignments` beside `grader` (a course names its assignment there, not in the engine)."""
    return os.environ.get("GRADER_ASSIGNMENT") or importlib.import_module("assignments").DEFAULT


def load(path: str | None = None, notebooks: bool = False) -> Assignment:
    """The assignment in module `path` (default: course_assignment()), checked
    (`validate`); AuthoringError when it cannot be graded. `notebooks`: also require its solution and template (they
    are authoring files: Gradescope's zip ships neither)."""
    path = path or course_assignment()
    try:
        module = importlib.import_module(path)
    except AuthoringError:
        raise
    except ModuleNotFoundError as error:
        if error.name and (path == error.name or path.startswith(error.name + ".")):
            raise AuthoringError(
                f"no module {path!r} (no {error.name!r}): name the module that holds ASSIGNMENT, as "
                "`--assignment assignments.<name>.rubric` for assignments/<name>/rubric.py."
            ) from None
        raise AuthoringError(_import_failed(path, error)) from None
    except Exception as error:  # noqa: BLE001  -- the author's module: its own error, with the line
        raise AuthoringError(_import_failed(path, error)) from None
    assignment = getattr(module, "ASSIGNMENT", None)
    if not isinstance(assignment, Assignment):
        raise AuthoringError(
            f"{path} has no ASSIGNMENT = Assignment(...) ({type(assignment).__name__} found): end the module with "
            "`ASSIGNMENT = Assignment(probes=..., lines=...)` (from grader.kit import Assignment)."
        )
    validate(assignment, notebooks, rubric=path)
    return assignment


def _import_failed(path: str, error: BaseException) -> str:
    import traceback

    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    where = f" ({frame.filename}, line {frame.lineno})" if frame else ""
    return f"importing {path} raised {type(error).__name__}: {error}{where}: fix that line."


def validate(assignment: Assignment, notebooks: bool = False, rubric: str | None = None) -> None:
    """AuthoringError for the first declaration that cannot work: a probe or check that cannot be called, a probe the
    child cannot import, test cases that do not match the lines one for one, a missing notebook."""
    for probe in assignment.probes:
        for role in ("draw", "call"):
            if not callable(getattr(probe, role)):
                raise AuthoringError(f"probe {probe.name!r}: its {role} is not a function: give it one.")
        module, name = probe.call.__module__, probe.call.__qualname__
        try:
            found = getattr(importlib.import_module(module), name, None)
        except Exception:  # noqa: BLE001
            found = None
        if found is not probe.call:
            raise AuthoringError(
                f"probe {probe.name!r}: the child imports its call by name ({module}:{name}) and cannot: define it "
                "with `def` at the top level of the assignment's probes.py."
            )
        if module == rubric:  # the child would import the rubric: its checks and reference, beside student code
            raise AuthoringError(f"probe {probe.name!r}: move its call out of the rubric {rubric} into probes.py.")
    for line in assignment.lines:
        if not callable(line.check):
            raise AuthoringError(
                f"rubric line {line.number}: its check ({line.check!r}) is not a function: give it "
                "`def check(sub, line) -> str` (return what was verified, raise CheckFailed)."
            )
    for reading in assignment.readings:
        if not callable(reading.read):
            raise AuthoringError(f"reading {reading.name!r}: its read is not a function: give it one.")
    if assignment.tests is not None:
        _check_cases(assignment)
    if notebooks:
        for kind in ("solution", "template"):
            path = getattr(assignment, kind)
            if path is not None and not Path(path).is_file():
                fix = "run `make template`" if kind == "template" else "write it, or fix the path"
                raise AuthoringError(f"the {kind} notebook {path} does not exist: {fix}.")


def _check_cases(assignment: Assignment) -> None:
    """Each rubric line has exactly one test method in `tests`, and each method a line of this assignment."""
    folder = Path(assignment.tests or ".")
    if not folder.is_dir():
        raise AuthoringError(f"the test cases' folder {folder} does not exist: fix `tests=`, or leave it out.")
    found: dict[str, list[str]] = {}
    methods = []
    for case in _flatten(unittest.TestLoader().discover(str(folder), top_level_dir=str(_top(folder)))):
        if isinstance(case, unittest.loader._FailedTest):  # type: ignore[attr-defined]
            lines = str(getattr(case, "_exception", case.id())).strip().splitlines()
            where = next((line.strip() for line in reversed(lines) if line.strip().startswith("File ")), "")
            raise AuthoringError(f"the test cases in {folder} cannot be imported: {lines[-1]} ({where}): fix it.")
        method = getattr(case, case._testMethodName, None)
        line = getattr(method, "rubric_line", None)
        methods.append((case.id(), line))
        if line is not None:
            found.setdefault(line.number, []).append(case.id())
    for test, line in methods:
        if line is None or assignment.rubric.get(line.number) is not line:
            raise AuthoringError(
                f"the test {test} scores no rubric line of this assignment: add its Line to the rubric, or remove "
                "the test."
            )
    for line in assignment.lines:
        if len(found.get(line.number, [])) != 1:
            what = "no test" if line.number not in found else f"{len(found[line.number])} tests"
            raise AuthoringError(
                f"rubric line {line.number} ({line.name!r}) has {what} in {folder}: give it one test method "
                "decorated @rubric_line(...), or leave `tests=` out to have one made for each line."
            )


def _flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _flatten(item)
        else:
            yield item


def _top(folder: Path) -> Path:
    """The folder above the outermost package holding `folder` (what unittest's discovery imports from)."""
    top = folder.resolve()
    while (top / "__init__.py").is_file():
        top = top.parent
    return top
