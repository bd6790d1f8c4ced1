"""The graded submission as scoring sees it: plain data only, passed to every check (its words for the student are
scoring/feedback.py's)."""

import signal
from dataclasses import dataclass, field

from ..assignment import Assignment, load
from ..sandbox.channel import ChildReport
from ..sandbox.launch import ChildRun
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
    upload: frozenset | None = None  # the upload's files as copied for the child (relative paths); None: unknown
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
    def memory_killed(self) -> bool:
        return bool(self.run and self.run.exit_code == -signal.SIGKILL and not self.run.stopped)
