"""Helpers for the project's own tests: grade a notebook end to end with ./run_autograder, read results.json."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import nbformat
import progress
import pytest

from assignments.a0.rubric import RUBRIC
from grader.__main__ import job_of, parse
from grader.sandbox import cleanup
from grader.secret import DEVELOPMENT_ENV
from grader.serve import Server
from tools.template import unmarked

ROOT = Path(__file__).resolve().parents[1]
RUN_AUTOGRADER = ROOT / "run_autograder"
SCHEMA = json.loads((ROOT / "grader" / "scoring" / "gradescope_schema.json").read_text())
SOLUTION = ROOT / "solution" / "A0.ipynb"
SOURCE = ROOT / "source" / "A0.ipynb"
FULL_MARKS = sum(line.points for line in RUBRIC.values())
# Where this checkout has no course secret (a fresh clone, CI), the suite grades with the development secret, saying
# so in every results.json (extra_data.secret); it never makes a .grader-secret.
os.environ[DEVELOPMENT_ENV] = "1"
DEVELOPMENT = {DEVELOPMENT_ENV: "1"}  # for the tests that give a grading a whole environment of their own

# The suite's sandbox users, leases and batch locks are its own (a0test, a0test-1, ... and a0test-gw0, ...), for every
# test and every process it starts: a TA's batch or grading on the same machine uses a0sandbox-<n>, and a sweep kills
# every process of the user it sweeps. A0_SANDBOX_USER would pin every grading to one user.
os.environ.setdefault("A0_SANDBOX_PREFIX", "a0test")
os.environ.pop("A0_SANDBOX_USER", None)
if os.environ["A0_SANDBOX_PREFIX"] in ("", "a0sandbox"):
    raise pytest.UsageError(
        "A0_SANDBOX_PREFIX: the tests need sandbox users of their own (default a0test), not a0sandbox"
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "slow(seconds): about that long on a busy machine (timeouts, installs, a class)")
    if not hasattr(config, "workerinput"):  # the controller, or the only process: it has the terminal
        config.pluginmanager.register(progress.Progress(config), "a0-progress")


def pytest_collection_finish(session):
    progress.write_expected(session.items)


def pytest_collection_modifyitems(items):
    """Each worker starts with its share of the slow tests. `make test` uses pytest-xdist's worksteal: every worker
    first gets an equal run of consecutive tests, and an idle one steals from the end of another's; so the slow tests
    (longest first) are dealt to the fronts of those runs, and no worker is left with one at its end."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    seconds = {item: (getattr(item.get_closest_marker("slow"), "args", None) or [0])[0] for item in items}
    slow = sorted((item for item in items if seconds[item]), key=lambda item: -seconds[item])
    rest = [item for item in items if not seconds[item]]
    runs, left = [], len(items)
    for index in range(workers):  # the sizes of worksteal's first runs
        runs.append(left // (workers - index))
        left -= runs[-1]
    piles: list = [[] for _ in range(workers)]
    for item in slow:  # each to the pile with the fewest seconds so far: the piles end about together
        min(piles, key=lambda pile: sum(seconds[i] for i in pile)).append(item)
    for pile, size in zip(piles, runs):
        fill = max(0, size - len(pile))
        pile += rest[:fill]
        del rest[:fill]
    items[:] = [item for pile in piles for item in pile] + rest


def sandbox_user() -> str:
    """One sandbox user per pytest-xdist worker: cleanup kills every process of that user, so two gradings
    running at once must not share one. A0_SANDBOX_PREFIX separates test runs that overlap."""
    return os.environ["A0_SANDBOX_PREFIX"] + "-" + os.environ.get("PYTEST_XDIST_WORKER", "main")


def run_grader(
    submission: Path, results: Path, *options: str, timeout: float = 600, runner=RUN_AUTOGRADER, env=None
) -> subprocess.CompletedProcess:
    """The real run_autograder (or a copy's), quiet, exit status 0 checked; `options` may pin a sandbox user."""
    completed = subprocess.run(
        [str(runner), "--submission", str(submission), "--results", str(results), "--quiet", *options],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else {**os.environ, **env},
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed


def grade(submission: Path, results: Path, *options: str, timeout: float = 600, **runner) -> dict:
    """Grade as run_autograder does and return its results.json, checked against Gradescope's schema. Through this
    worker's grader.serve (children forked by a warm start, as the batch grades) unless `runner` (run_grader's
    `runner` and `env`) asks for a particular run_autograder, or A0_TEST_COLD is set (every grading cold)."""
    options = ("--sandbox-user", sandbox_user(), *options)
    if runner or os.environ.get("A0_TEST_COLD"):
        run_grader(submission, results, *options, timeout=timeout, **runner)
    else:
        served(["--submission", str(submission), "--results", str(results), "--quiet", *options], timeout)
    data = json.loads(results.read_text())
    jsonschema.validate(data, SCHEMA)
    assert_inert(data)
    assert_only_words_written_on_purpose(data)
    return data


SERVER = Server()


def served(argv: list, timeout: float) -> None:
    """One grading by this worker's grader.serve; exit status 0 checked."""
    assert SERVER.grade(job(argv), timeout=timeout) == 0


def job(argv: list):
    """The grading run_autograder's arguments `argv` ask for, as the engine takes it (grader.grade.Job)."""
    return job_of(parse(argv))


GRADER_TEXT = re.compile(r"\w+Warning: |\.py:\d+: |/grader/|" + re.escape(str(ROOT)))


def assert_only_words_written_on_purpose(results: dict):
    """No output of any grading in the suite holds a Python warning or a path of the grader."""
    for output in [results.get("output", ""), *(t.get("output", "") for t in results["tests"])]:
        found = GRADER_TEXT.search(output)
        assert found is None, output[max(0, found.start() - 500) : found.end() + 500]


_MARKDOWN = None
_NEVER_OURS = ("<h1", "<h2", "<h3", "<h4", "<h5", "<h6", "<a ", "<a>", "<img", "<hr", "<table")


def assert_inert(results: dict):
    """Every output renders (CommonMark, raw HTML allowed as Gradescope may) without a heading, link, image or raw
    HTML element: the grader writes none, so any would have come from student text."""
    global _MARKDOWN
    if _MARKDOWN is None:
        from markdown_it import MarkdownIt

        _MARKDOWN = MarkdownIt("commonmark", {"html": True})
    for output in [results.get("output", ""), *(t.get("output", "") for t in results["tests"])]:
        tokens = _MARKDOWN.parse(output)
        kinds = {t.type for t in tokens} | {c.type for t in tokens for c in (t.children or [])}
        assert not kinds & {"html_block", "html_inline", "heading_open", "link_open", "image", "hr"}, output[:3000]
        rendered = _MARKDOWN.render(output)
        assert not any(tag in rendered for tag in _NEVER_OURS), output[:3000]


def scores(results: dict) -> dict:
    return {test["number"]: test["score"] for test in results["tests"]}


def output_of(results: dict, number: str) -> str:
    return next(test["output"] for test in results["tests"] if test["number"] == number)


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


# The solution's weights after its 10,000 steps (MSE 4e-6), by parameter order (ToyModel or its nn.Sequential twin)
TRAINED = [
    [[0.9494, 1.9401, -6.7382], [-10.2692, -7.4255, 4.3281], [-3.2313, -1.6486, -2.7517], [2.3469, -8.2104, -3.3509]],
    [0.1053, 0.2853, 5.4997, 0.7801],
    [[-2.6745, 1.7103, -8.4258, 4.5824], [6.7622, 10.0894, -14.5901, 4.9278]],
    [10.9161, 5.2922],
]
WARM_START = (
    f"with torch.no_grad():\n    for p, v in zip(model.parameters(), {TRAINED}):\n        p.copy_(torch.tensor(v))\n"
)
STEPS = 50
LOOP = f"for step in range({STEPS}):"


def solution(steps: int | None = None, warm: bool = True):
    """The solution notebook (SOLUTION itself has the real 10,000 steps). By default its training cell trains nothing:
    it gives `model` the weights those steps reach (TRAINED): creating an optimizer alone costs 1.4 s (torch imports
    torch._dynamo), and a few seconds of training would not fit a short cell limit on a busy machine.
    `steps`: the cell keeps its loop, for that many steps, from TRAINED if `warm`, else from its seed (50 steps: MSE
    0.08; 2,000: 0.0011)."""
    nb = unmarked(nbformat.read(SOLUTION, as_version=4))  # without `make template`'s markers, as a student's
    cell = next(c for c in code_cells(nb) if "range(10000)" in c.source)
    start = "torch.manual_seed(0)\nmodel = ToyModel()\n"
    assert cell.source.startswith(start)
    if steps is None:
        cell.source = start + WARM_START
    else:
        cell.source = cell.source.replace("range(10000)", f"range({steps})")
        cell.source = cell.source.replace(start, start + WARM_START) if warm else cell.source
    return nb


def processes_of(uid: int) -> list:
    """The live (not zombie) processes of uid."""
    return [pid for pid, _, puid, state in cleanup._processes() if puid == uid and state != "Z"]


def cell_number(nb, text: str) -> int:
    """The number (1-based among code cells) of the first code cell holding `text`."""
    return next(n for n, cell in enumerate(code_cells(nb), 1) if text in cell.source)


# The solution's exercise cells, found by content (code cells count from 1, as after Restart & Run All)
_SOLUTION = nbformat.read(SOLUTION, as_version=4)
FORWARD, BACKPROP, TOYMODEL, TRAINING = (
    cell_number(_SOLUTION, text) for text in ("def forward(", "def backprop(", "class ToyModel(", "range(10000)")
)
SOLUTION_CELLS = len(code_cells(_SOLUTION))


def edit_cell(nb, number: int, old: str, new: str):
    """Replace text in code cell `number` (1-based, as Jupyter counts after Restart & Run All)."""
    cell = code_cells(nb)[number - 1]
    assert old in cell.source, (number, old, cell.source)
    cell.source = cell.source.replace(old, new)
    return nb


def save(nb, folder: Path, name: str = "A0.ipynb", version: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(nb, str(path), version=version)
    return path


def grader_copy(folder: Path) -> Path:
    """A copy of this grader (engine, assignments, A0's cases, run_autograder) in `folder`, sharing its venv: for
    tests that edit the grader the way a course would."""
    folder.mkdir(parents=True)
    for name in ("grader", "assignments", "tests"):
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "run_autograder", folder / "run_autograder")
    os.symlink(os.path.realpath(ROOT / ".venv"), folder / ".venv")
    return folder


@pytest.fixture
def grade_notebook(tmp_path):
    """grade_notebook(nb) -> results.json of that notebook, written to a fresh folder."""

    def run(nb, *options, name="A0.ipynb", version=4):
        submission = save(nb, tmp_path / "submission", name, version)
        return grade(submission.parent, tmp_path / "results" / "results.json", *options)

    return run
