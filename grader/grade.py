"""Grade one submission: find the notebook, run it in the sandbox, score it, write results.json."""
import json
import os
import sys
import time
import traceback
from pathlib import Path

from .notebook.extract import read_notebook
from .notebook.locate import SubmissionProblem, locate
from .sandbox.identity import hide_from_others
from .sandbox.launch import ROOT, Sandbox
from .scoring import inputs, session
from .scoring.results import emergency_results, run_tests, write_results
from .scoring.summary import summary

TESTS = ROOT / "tests"
MAX_RESULTS_BYTES = 1_000_000


def grade(submission: Path, results_path: Path, settings, python: str = sys.executable, log_output=True) -> dict:
    started = time.monotonic()
    try:
        current = _run(Path(submission), settings, python)
        session.use(current)
        results = run_tests(TESTS, ROOT, summary())
        results["execution_time"] = round(time.monotonic() - started, 2)
        _fit(results, MAX_RESULTS_BYTES)
        _log(current, log_output)
    except Exception:   # a bug of the grader: the student still gets a valid results.json
        traceback.print_exc()
        results = emergency_results("The autograder itself failed while grading this submission; this is not "
                                    "your fault. Please tell the course staff.")
    write_results(results_path, results)
    return results


def _run(submission: Path, settings, python: str) -> session.Session:
    current = session.Session(probes=inputs.choose())
    sandbox = None
    try:
        current.located = locate(submission)
        if os.geteuid() == 0:
            hide_from_others(_private(python))
        root = submission if submission.is_dir() else current.located.path
        sandbox = Sandbox(settings, root, python).start()
        current.located.notes += sandbox.copy_notes
        current.notebook = read_notebook(current.located.path)
        cells = [{"number": c.number, "source": c.source, "python": c.python} for c in current.notebook.cells]
        current.run = sandbox.run(cells, inputs.to_json(current.probes))
    except SubmissionProblem as problem:
        current.problem = str(problem)
        if sandbox:
            sandbox.abort()
    return current


def _private(python: str) -> list:
    """Everything in the grader's folder (tests, solution, a checkout's .git) except the interpreter the child needs."""
    needed = {*Path(python).absolute().parents, *Path(sys.prefix).absolute().parents, Path(sys.prefix).absolute()}
    return [entry for entry in ROOT.iterdir() if entry not in needed]   # the grader's own venv stays readable too


def _fit(results: dict, limit: int):
    """Messages quote the student's text (errors, answers); halve the longest output until the file fits."""
    while len(json.dumps(results, indent=2)) > limit:
        longest = max([results, *results["tests"]], key=lambda item: len(item.get("output", "")))
        text = longest["output"]
        longest["output"] = text[:len(text) // 2] + "\n\n[... cut: this output was too long ...]"


def _log(current: session.Session, log_output: bool):
    """The instructor-only log (Gradescope's stdout): isolation in force and the notebook's output."""
    if current.run:
        print(f"[sandbox] {current.run.isolation}")
        print(f"[sandbox] {current.run.ending} {current.run.seconds:.1f} s; "
              f"{current.run.leftovers} leftover process(es) killed")
        if log_output:
            print("[notebook output, head and tail]\n" + current.run.output)
