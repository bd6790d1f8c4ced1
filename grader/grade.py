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
from typing import NoReturn

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


class Interrupted(BaseException):
    """SIGTERM or SIGINT: clean up, write results saying so, then stop."""


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
        hide = [*hide, Path(results_path).absolute().parent]
        sub = _run(Path(submission), settings, python, ta_dir, hide, writable, warm)
        results = run_tests(sub.assignment.tests, ROOT, sub, summary(sub), facts(sub))
        results["execution_time"] = round(time.monotonic() - started, 2)
        _fit(results, settings.results_bytes)
        _log(sub, log_output)
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


def _assignment(settings):
    try:
        return load(settings.assignment)
    except Exception:  # noqa: BLE001  -- results.json is still written, without its lines
        traceback.print_exc()
        return None


def _interrupt(signum, frame) -> NoReturn:
    raise Interrupted(signum)


def _run(submission: Path, settings, python: str, ta_dir, hide, writable=(), warm=None) -> Submission:
    sub = Submission(settings=settings, assignment=load(settings.assignment))
    if not submission.exists():
        sub.problem = NO_SUBMISSION
        return sub
    with lease(settings.sandbox_pool, settings.sandbox_user) as identity:
        skip, left = set(), settings.total_timeout
        for _ in range(1 + settings.reruns):
            scratch = Scratch(submission, identity.uid, identity.gid, settings)  # each run starts from a fresh copy
            try:
                sub.notes = [left_out(fact, settings) for fact in scratch.left_out]
                sub.upload = frozenset(scratch.files)
                seed = inputs.seed_for(scratch.digest.digest())
                sub.inputs = {
                    name: probe.draw(np.random.default_rng([seed, index]))
                    for index, (name, probe) in enumerate(sub.assignment.probe.items())
                }
                request = {"probes": [[name, inputs.to_json(value)] for name, value in sub.inputs.items()]}
                options = dict(
                    hide=_hidden(python, submission, hide),
                    ta_files=ta_dir is not None,
                    handout_code=sub.assignment.handout_code,
                    notebook=sub.assignment.notebook,
                    probes=sub.assignment.calls,
                    readings=sub.assignment.reading_paths,
                    names=sub.assignment.checked_names,
                    writable=writable,
                    warm=warm,
                )
                run_settings = dataclasses.replace(settings, total_timeout=left)
                with (
                    Child(run_settings, identity, scratch.path, python, role="reader", **options) as reader,
                    Child(run_settings, identity, scratch.path, python, skip_cells=skip, **options) as runner,
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
    sub.problem = unreadable(sub)
    if ta_dir is not None:
        dropped = write_ta_files(Path(ta_dir), sub.reading_report.ta_files, failed_cells(sub.report.cells))
        for name in dropped:  # for the instructor's log: a reader's file that did not pass the parent's checks
            print(
                f"[grader] file for the staff {terminal_safe(name)!r} dropped (not one the grader writes, or not valid)"
            )
    return sub


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


def _fit(results: dict, limit: int) -> None:
    """Messages quote the student's text (errors, answers): halve the longest output until the file fits."""
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


def _log(sub: Submission, log_output: bool) -> None:
    """The instructor-only log (Gradescope's stdout): isolation in force and the notebook's output."""
    print(f"[grader] parent peak memory {_peak_mb()} MB")
    if sub.run:
        print(f"[sandbox] {sub.run.isolation}")
        print(f"[sandbox] {ending(sub)} {sub.run.seconds:.1f} s; {sub.run.leftovers} leftover process(es) killed")
        if log_output:
            print("[notebook output, head and tail]\n" + terminal_safe(sub.run.output))
