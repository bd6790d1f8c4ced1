"""The graded submission as scoring sees it: plain data only, passed to every check."""

import signal
from dataclasses import dataclass, field

from ..assignment import Assignment, load
from ..sandbox.channel import ChildReport
from ..sandbox.launch import READ_TIMEOUT, ChildRun
from ..settings import MIB, Settings


@dataclass
class Submission:
    run: ChildRun | None = None  # the runner's: trusted only for numbers the parent re-computes
    reading: ChildRun | None = None  # the reader's: as trustworthy as the notebook's text
    inputs: dict = field(default_factory=dict)  # the grader's inputs, per probe (scoring/inputs.py)
    problem: str | None = None  # why it could not be graded at all, for the student
    notes: list = field(default_factory=list)  # the parent's own notes (the copy of the upload)
    settings: Settings = field(default_factory=Settings)
    skipped: set = field(default_factory=set)  # cells that caught their interrupt: the last run skipped them
    assignment: Assignment = field(default_factory=load)  # what is graded: its probes, lines and tests

    @property
    def report(self) -> ChildReport:
        return self.run.report if self.run else ChildReport()

    @property
    def reading_report(self) -> ChildReport:
        return self.reading.report if self.reading else ChildReport(role="reader")

    @property
    def notebook(self) -> dict | None:
        """records.NotebookInfo, once the reader has read the notebook."""
        return self.reading_report.notebook

    @property
    def memory_mb(self) -> int:
        return self.settings.limits.memory_bytes // MIB

    @property
    def ending(self) -> str:
        """How the notebook's process ended, in words a student understands."""
        run = self.run
        if run is None or run.stopped == "cancelled":
            return "The notebook was not run."
        if run.stopped == "run_timeout":
            return (
                f"The notebook did not finish within the grader's time limit of "
                f"{self.settings.total_timeout:.0f} s{_where(self, run.running, ' (', ' was running)')}, so it was "
                "stopped."
            )
        if run.stopped == "watchdog":
            what = _running_text(self, run.running) if run.running else "A cell"
            limit = {"cell": self.settings.cell_timeout, "probe": self.settings.probe_timeout}.get(
                run.running[0] if run.running else "cell", READ_TIMEOUT
            )
            return (
                f"{what[0].upper() + what[1:]} ran past its {limit:.0f} s limit and did not stop when "
                "interrupted, so the notebook's process was stopped."
            )
        if run.finished:
            return "The notebook ran to the end."
        if run.report.isolation is None:  # no student code runs before the child reports it is ready
            return (
                f"The grader could not start the process that runs notebooks (exit code {run.exit_code}); this "
                "is a problem of the autograder, not of your notebook. Please tell the course staff."
            )
        where = _where(self, run.running, "during ", "") or "after the last cell"
        code = run.exit_code
        if code is not None and code < 0:
            why = {
                signal.SIGSEGV: "crashed (segmentation fault)",
                signal.SIGXCPU: "used up its CPU time",
                signal.SIGKILL: f"was killed (it may have gone over the {self.memory_mb} MB memory limit)",
                signal.SIGABRT: "aborted",
                signal.SIGXFSZ: "wrote a file larger than allowed",
            }
            return (
                f"The notebook's process {why.get(-code, f'was stopped by signal {-code}')} {where}, before "
                "the grader could finish its checks."
            )
        return (
            f"The notebook's process ended {where}, with exit code {code} (does it call `os._exit` or "
            "`os.kill`?), before the grader could finish its checks."
        )

    @property
    def memory_killed(self) -> bool:
        return bool(self.run and self.run.exit_code == -signal.SIGKILL and not self.run.stopped)


def _where(sub: Submission, running, before: str, after: str) -> str:
    return f"{before}{_running_text(sub, running)}{after}" if running else ""


def _running_text(sub: Submission, running: tuple) -> str:
    kind, name = running
    if kind == "cell":
        return f"cell {name}"
    if kind == "read":
        return "the reading of the notebook"
    probe = sub.assignment.probe.get(name)
    return f"the grader's call of {probe.called}" if probe else "the grader's checks"
