"""Timeouts and limits, in one place. `run_autograder --help` lists the command-line options that change them."""

import os
from dataclasses import dataclass, field

GIB = 1024**3
MIB = 1024**2


@dataclass
class Limits:
    cpu_seconds: int = 600  # CPU time of the child
    memory_bytes: int = 2 * GIB  # address space; the solution needs about 0.7 GB
    processes: int = 64  # tasks (threads count too) of the sandbox user
    file_bytes: int = 64 * MIB  # largest file the notebook may write
    open_files: int = 256


@dataclass
class Settings:
    cell_timeout: float = 300.0  # one cell; it is interrupted and the run goes on
    total_timeout: float = 420.0  # the whole child run, well inside Gradescope's 10 minutes
    probe_timeout: float = 30.0  # one call of the student's objects by the grader
    sandbox_pool: str = "a0sandbox"  # sandbox users a0sandbox, a0sandbox-1, ...: one leased per grading
    sandbox_user: str | None = None  # pins one user of the pool's kind instead (waits for its lease)
    output_head_bytes: int = 16 * 1024  # what is kept of the notebook's printed output
    output_tail_bytes: int = 16 * 1024
    channel_bytes: int = 8 * MIB  # the most data the child may report
    limits: Limits = field(default_factory=Limits)
    # the module holding the graded assignment (grader/assignment.py); the environment may name another
    assignment: str = field(default_factory=lambda: os.environ.get("GRADER_ASSIGNMENT") or "assignments.a0")
