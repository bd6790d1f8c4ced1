"""Timeouts and limits, each declared once: its default, the command-line option that changes it (in its unit) and
its help. `run_autograder --help` is built from these declarations (grader/__main__.py, `add_options`); a setting
without an option is still declared here, with its unit and why it has its value. The children get theirs in their
configuration (sandbox/launch.py).

Bounds inside a parser of untrusted data (the channel's share of each event kind in sandbox/channel.py, records.py,
batch.py's metadata, notebook/scan.py) are part of that parser's contract and stay beside it."""

import argparse
import os
from dataclasses import MISSING, dataclass, field, fields

GIB = 1024**3
MIB = 1024**2


def option(default=None, flag=None, unit="", help="", scale=1, factory=None):
    """A setting: `flag` (None: no option) takes a value in `unit`, stored times `scale` (MiB given, bytes kept)."""
    metadata = {"flag": flag, "unit": unit, "help": help, "scale": scale}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class Limits:
    cpu_seconds: int = option(600, "--cpu-seconds", "S", "CPU time of the child, in seconds")
    memory_bytes: int = option(
        2 * GIB, "--memory-mb", "MB", "address space of the child (the solution needs about 0.7 GB), in MiB", MIB
    )
    processes: int = option(64, "--max-processes", "N", "processes and threads of the sandbox user")
    file_bytes: int = option(64 * MIB, "--file-mb", "MB", "largest file the notebook may write, in MiB", MIB)
    open_files: int = option(256, "--open-files", "N", "files the child may hold open at once")


@dataclass
class Settings:
    cell_timeout: float = option(300.0, "--cell-timeout", "S", "seconds one cell may run before it is interrupted")
    total_timeout: float = option(
        420.0, "--timeout", "S", "seconds the whole run of the notebook may take (well inside Gradescope's 10 minutes)"
    )
    probe_timeout: float = option(30.0, "--probe-timeout", "S", "seconds for each call of the student's objects")
    sandbox_pool: str = option(
        help="sandbox users a0sandbox, a0sandbox-1, ...: one leased per grading (env A0_SANDBOX_PREFIX: another "
        "name, as the batch's job slots and the project's tests use)",
        factory=lambda: os.environ.get("A0_SANDBOX_PREFIX") or "a0sandbox",
    )
    sandbox_user: str | None = option(
        None,
        "--sandbox-user",
        "USER",
        "pin the user that runs student code when the grader is root (env A0_SANDBOX_USER; default: lease a free "
        "one of a0sandbox, a0sandbox-1, ...)",
    )
    read_timeout: float = option(
        60.0, "--read-timeout", "S", "seconds the child may take to find, read and parse the notebook"
    )
    notebook_bytes: int = option(
        100 * MIB,
        "--notebook-mb",
        "MB",
        "largest notebook file the child reads (to grade it, or to compare it with the handout), in MiB",
        MIB,
    )
    reruns: int = option(2, help="runs again without a cell that caught its interrupt (a notebook may hold several)")
    rerun_seconds: float = option(
        30.0, unit="s", help="a run again needs this much of the total time left (or as long as the run before took)"
    )
    watchdog_grace: float = option(
        10.0, unit="s", help="a cell or call that ignores its interrupt this long (at most its own limit) is killed"
    )
    check_seconds: int = option(
        60, unit="s", help="one rubric line's check: it reads plain data, so one that runs this long is a grader bug"
    )
    upload_bytes: int = option(
        256 * MIB,
        "--upload-mb",
        "MB",
        "the most of the upload copied for the child (the rest is left out), in MiB",
        MIB,
    )
    upload_files: int = option(2_000, help="files of the upload copied for the child (the rest is left out)")
    upload_depth: int = option(20, unit="folders", help="folders deeper in the upload are not copied")
    results_bytes: int = option(1_000_000, unit="bytes", help="results.json: the longest outputs are halved to fit")
    top_output_chars: int = option(100_000, unit="characters", help="results.json's top-level message is cut there")
    test_output_chars: int = option(30_000, unit="characters", help="one rubric line's message is cut there")
    output_head_bytes: int = option(16 * 1024, unit="bytes", help="what is kept of the notebook's printed output")
    output_tail_bytes: int = option(16 * 1024, unit="bytes", help="the same, from its end")
    limits: Limits = field(default_factory=Limits)
    assignment: str = option(
        flag="--assignment",
        unit="MODULE",
        help="the module holding the graded assignment (grader/assignment.py; env GRADER_ASSIGNMENT; default: "
        "the course's, assignments.DEFAULT)",
        factory=lambda: _course_assignment(),
    )


def _course_assignment() -> str:
    from .assignment import course_assignment  # on use: the children import these settings, never the assignment

    return course_assignment()


def declared_default(name: str):
    """The declared default of the setting `name` (of Settings or Limits), without building them."""
    for f in (*fields(Settings), *fields(Limits)):
        if f.name == name:
            return f.default_factory() if f.default is MISSING else f.default  # type: ignore[operator]
    raise KeyError(name)


def _declared():
    """[(holder, field)] of every setting with a command-line option: holder None for Settings, "limits"."""
    return [(None, f) for f in fields(Settings) if f.metadata.get("flag")] + [
        ("limits", f) for f in fields(Limits) if f.metadata.get("flag")
    ]


def _positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
        return value

    return parse


def add_options(parser: argparse.ArgumentParser) -> None:
    """One option for each declared setting, its default shown in its unit; the settings without an option are
    listed after the options (the parser's epilog)."""
    defaults = Settings()
    fixed = [f for f in (*fields(Settings), *fields(Limits)) if not f.metadata.get("flag") and f.metadata.get("help")]
    parser.epilog = "fixed settings (grader/settings.py):\n" + "\n".join(
        f"  {f.name} = {' '.join(filter(None, [str(declared_default(f.name)), f.metadata['unit']]))}: "
        f"{f.metadata['help']}"
        for f in fixed
    )
    for holder, f in _declared():
        meta = f.metadata
        default = getattr(getattr(defaults, holder) if holder else defaults, f.name)
        number = isinstance(default, (int, float)) and not isinstance(default, bool)
        parser.add_argument(
            meta["flag"],
            dest=f.name,
            metavar=meta["unit"] or None,
            type=_positive(type(default)) if number else str,
            default=default // meta["scale"] if number and meta["scale"] != 1 else default,
            help=meta["help"],
        )


def from_options(args: argparse.Namespace) -> Settings:
    """The Settings the parsed options give."""
    settings = Settings()
    for holder, f in _declared():
        target = getattr(settings, holder) if holder else settings
        value = getattr(args, f.name)
        setattr(
            target, f.name, value * f.metadata["scale"] if value is not None and f.metadata["scale"] != 1 else value
        )
    return settings


def settings_from_json(data: dict) -> Settings:
    """The Settings `dataclasses.asdict` gave as `data` (grader/serve.py's requests)."""
    return Settings(**{**data, "limits": Limits(**data["limits"])})
