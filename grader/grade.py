"""Grade one submission: lease a sandbox user, copy the upload, run the child, score its records, write results.json.

Every step sits in one structure whose cleanup runs on success, on any exception and on SIGTERM/SIGINT: the child's
processes are killed, the sandbox user swept, the scratch copy removed; results.json is written in every case, into
room reserved before the child started.
"""

import dataclasses
import resource
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from .assignment import load
from .markdown import terminal_safe
from .sandbox.cleanup import remove_tree
from .sandbox.launch import ROOT, Child, run_pair
from .sandbox.lease import lease
from .sandbox.scratch import Scratch
from .sandbox.ta_files import failed_cells, write_ta_files
from .scoring import inputs
from .scoring.feedback import GRADER_FAILED, INTERRUPTED, NO_SUBMISSION, ending, left_out, unreadable
from .scoring.results import Reservation, emergency_results, run_tests, strict_json
from .scoring.submission import Submission
from .scoring.summary import facts, summary
from .settings import Settings, settings_from_json


class Interrupted(BaseException):
    """SIGTERM or SIGINT: clean up, write results saying so, then stop."""


@dataclasses.dataclass
class Job:
    """One grading, as the engine takes it from the command line (__main__.py), the batch and grader/serve.py."""

    submission: Path
    results: Path
    settings: Settings
    ta_dir: Path | None = None  # --ta-files
    hide: tuple[Path, ...] = ()
    writable: tuple[Path, ...] = ()
    log_output: bool = True  # what the notebook printed goes to the log

    def to_json(self) -> dict:
        return {
            "submission": str(self.submission),
            "results": str(self.results),
            "settings": dataclasses.asdict(self.settings),
            "ta_dir": None if self.ta_dir is None else str(self.ta_dir),
            "hide": [str(p) for p in self.hide],
            "writable": [str(p) for p in self.writable],
            "log_output": self.log_output,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Job":
        return cls(
            Path(data["submission"]),
            Path(data["results"]),
            settings_from_json(data["settings"]),
            None if data["ta_dir"] is None else Path(data["ta_dir"]),
            tuple(map(Path, data["hide"])),
            tuple(map(Path, data["writable"])),
            data["log_output"],
        )


def grade_job(job: Job, warm=None) -> tuple[int, dict | None]:
    """(run_autograder's exit status, the results) of one grading: 0 once results.json is written, whatever the score;
    130 interrupted (results.json says so); 1 when results.json itself cannot be written."""
    try:
        results = grade(
            job.submission,
            job.results,
            job.settings,
            log_output=job.log_output,
            ta_dir=job.ta_dir,
            hide=job.hide,
            writable=job.writable,
            warm=warm,
        )
    except Interrupted:
        print("run_autograder: interrupted; the sandbox was cleaned up and results.json says so", file=sys.stderr)
        return 130, None
    except OSError as error:  # the results file itself cannot be written (a folder in the way, no permission)
        sys.stdout.flush()
        print(f"run_autograder: cannot write results: {error}", file=sys.stderr)
        return 1, None
    return 0, results


def grade(
    submission: Path,
    results_path: Path,
    settings,
    python: str = sys.executable,
    log_output=True,
    ta_dir: Path | None = None,
    hide=(),
    writable=(),
    warm=None,
) -> dict:
    """`warm`: a warm start (grader/sandbox/warm.py) that forks the children, for a parent grading many notebooks."""
    started = time.monotonic()
    reservation = Reservation(results_path)
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    interrupted = None
    try:
        job = Job(Path(submission), Path(results_path), settings, ta_dir, tuple(hide), tuple(writable), log_output)
        grading = Grading(
            job, python, warm, started, Submission(settings=settings, assignment=load(settings.assignment))
        )
        for step in steps(grading):
            step(grading)
        results = grading.results
    except Interrupted as signal_received:
        interrupted = signal_received
        results = emergency_results(INTERRUPTED, _assignment(settings))
    except Exception:  # noqa: BLE001  -- a bug of the grader: the student still gets a valid results.json
        traceback.print_exc()
        results = emergency_results(GRADER_FAILED, _assignment(settings))
    try:
        reservation.write(results)
    finally:
        reservation.release()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if interrupted:
        raise interrupted
    return results


@dataclasses.dataclass
class Grading:
    """One grading on its way through the steps: each step reads and fills it."""

    job: Job
    python: str
    warm: object  # a Warm (grader/sandbox/warm.py) or None
    started: float  # time.monotonic() when the grading started
    sub: Submission  # the submission as scoring sees it
    results: dict = dataclasses.field(default_factory=dict)  # results.json


def steps(grading: Grading) -> list:
    """One grading, in order: read and run the notebook in the sandbox (when there is an upload), score, fit the
    results into their limit, log for the instructor."""
    found = [_run, _readable, _ta_files] if grading.job.submission.exists() else [_no_submission]
    return [*found, _score, _fit, _log]


def _assignment(settings):
    try:
        return load(settings.assignment)
    except Exception:  # noqa: BLE001  -- results.json is still written, without its lines
        traceback.print_exc()
        return None


def _interrupt(signum, frame) -> NoReturn:
    raise Interrupted(signum)


def _no_submission(grading: Grading) -> None:
    grading.sub.problem = NO_SUBMISSION


def _run(grading: Grading) -> None:
    """The reader and the runner on a fresh copy of the upload, again without a cell that caught its interrupt."""
    job, sub, settings = grading.job, grading.sub, grading.job.settings
    hide = [*job.hide, job.results.absolute().parent]
    with lease(settings.sandbox_pool, settings.sandbox_user) as identity:
        skip, left = set[int](), settings.total_timeout
        for _ in range(1 + settings.reruns):
            scratch = Scratch(job.submission, identity.uid, identity.gid, settings)  # each run from a fresh copy
            try:
                sub.notes = [left_out(fact, settings) for fact in scratch.left_out]
                sub.upload = frozenset(scratch.files)
                seed = inputs.seed_for(scratch.digest.digest())
                sub.inputs = {
                    name: probe.draw(np.random.default_rng([seed, index]))
                    for index, (name, probe) in enumerate(sub.assignment.probe.items())
                }
                request = {"probes": [[name, inputs.to_json(value)] for name, value in sub.inputs.items()]}
                options: dict[str, Any] = dict(
                    hide=_hidden(grading.python, job.submission, hide),
                    ta_files=job.ta_dir is not None,
                    handout_code=sub.assignment.handout_code,
                    notebook=sub.assignment.notebook,
                    probes=sub.assignment.calls,
                    readings=sub.assignment.reading_paths,
                    names=sub.assignment.checked_names,
                    stand_ins=sub.assignment.packages.stand_ins,
                    writable=job.writable,
                    warm=grading.warm,
                )
                run_settings = dataclasses.replace(settings, total_timeout=left)
                with (
                    Child(run_settings, identity, scratch.path, grading.python, role="reader", **options) as reader,
                    Child(run_settings, identity, scratch.path, grading.python, skip_cells=skip, **options) as runner,
                ):
                    sub.reading, sub.run = run_pair(reader, runner, request)
            finally:
                remove_tree(scratch.path)
            left -= sub.run.seconds
            cell = _uninterruptible_cell(sub.run)
            if cell is None or cell in skip or left < min(settings.rerun_seconds, sub.run.seconds):
                break
            skip.add(cell)
            sub.skipped = set(skip)
            print(f"[grader] cell {cell} caught its interrupt: the notebook runs again from a fresh start without it")


def _readable(grading: Grading) -> None:
    grading.sub.problem = unreadable(grading.sub)


def _ta_files(grading: Grading) -> None:
    sub, ta_dir = grading.sub, grading.job.ta_dir
    if ta_dir is not None:
        dropped = write_ta_files(Path(ta_dir), sub.reading_report.ta_files, failed_cells(sub.report.cells))
        for name in dropped:  # for the instructor's log: a reader's file that did not pass the parent's checks
            print(
                f"[grader] file for the staff {terminal_safe(name)!r} dropped (not one the grader writes, or not valid)"
            )


def _score(grading: Grading) -> None:
    sub = grading.sub
    grading.results = run_tests(sub.assignment.tests, ROOT, sub, summary(sub), facts(sub))
    grading.results["execution_time"] = round(time.monotonic() - grading.started, 2)


def _uninterruptible_cell(run) -> int | None:
    """The cell that ran past its limit and caught the interrupt: a run that skips it costs no more than a cell
    that raised (its later cells and the checks still run)."""
    if run.stopped == "watchdog" and run.running and run.running[0] == "cell":
        return run.running[1]
    return None


def _hidden(python: str, submission: Path, extra) -> list:
    """What the child must not see: the grader's folder (tests, solution, a checkout's .git) except the interpreter
    it runs, the original upload (it has its copy), the results folder and whatever the caller adds."""
    keep = {*Path(python).absolute().parents, *Path(sys.prefix).absolute().parents, Path(sys.prefix).absolute()}
    grader = [entry for entry in ROOT.iterdir() if entry not in keep and not entry.is_symlink()]
    return [str(p) for p in [*grader, submission.absolute(), *map(Path, extra)] if p.exists()]


def _fit(grading: Grading) -> None:
    """Messages quote the student's text (errors, answers): halve the longest output until the file fits."""
    results, limit = grading.results, grading.job.settings.results_bytes
    extra = results.get("extra_data", {})
    if len(str(extra)) > limit // 4:
        by_hand = extra.get("by_hand", {})
        extra["by_hand"] = {"test": by_hand.get("test"), "answer": (by_hand.get("answer") or "")[:20000], "images": []}
    for _ in range(64):  # each round halves one output: bounded
        if len(strict_json(results).encode("utf-8")) <= limit:
            return
        longest = max([results, *results["tests"]], key=lambda item: len(item.get("output", "")))
        text = longest["output"]
        longest["output"] = text[: len(text) // 2] + "\n\n[... cut: this output was too long ...]"


def _peak_mb() -> int:
    """VmHWM: unlike getrusage's ru_maxrss, it does not carry over the RSS of whatever process exec'd the grader."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _log(grading: Grading) -> None:
    """The instructor-only log (Gradescope's stdout): isolation in force and the notebook's output."""
    sub, log_output = grading.sub, grading.job.log_output
    print(f"[grader] parent peak memory {_peak_mb()} MB")
    if sub.run:
        print(f"[sandbox] {sub.run.isolation}")
        print(f"[sandbox] {ending(sub)} {sub.run.seconds:.1f} s; {sub.run.leftovers} leftover process(es) killed")
        if log_output:
            print("[notebook output, head and tail]\n" + terminal_safe(sub.run.output))
