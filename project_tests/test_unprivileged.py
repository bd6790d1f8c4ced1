"""On a TA's laptop the grader is not root: no user switch, the same limits, and the log says so. DataLoader
workers and `multiprocessing` work there too: in a private /dev/shm where the system allows a user namespace, else a
DataLoader loads in the notebook's process with a note."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest
from conftest import (
    DEVELOPMENT,
    FULL_MARKS,
    ROOT,
    WARM_START,
    assert_inert,
    assert_only_words_written_on_purpose,
    cell_number,
    code_cells,
    output_of,
    save,
    solution,
)

from assignments.a0.rubric import RUBRIC
from grader.child.shared_memory import NO_SHARED_MEMORY

NOBODY = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")


@pytest.fixture(scope="module")
def checkout():
    """A copy of the checkout an ordinary user can read (graded as root, the checkout is root-only)."""
    root = Path(tempfile.mkdtemp(prefix="a0-unprivileged-", dir="/tmp"))
    try:
        os.chmod(root, 0o755)
        for folder in ("grader", "assignments", "tests"):
            shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(ROOT / "run_autograder", root / "run_autograder")
        subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True, timeout=30)
        (root / ".venv").symlink_to(os.path.realpath(ROOT / ".venv"))
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _graded_as_nobody(checkout: Path, nb, *options: str, env=None) -> tuple:
    """Grade `nb` as the user nobody; returns (results.json, the terminal's output)."""
    work = Path(tempfile.mkdtemp(prefix="work-", dir=checkout))
    notebook = save(nb, work / "submission")
    shutil.chown(work, NOBODY, NOBODY)
    os.chmod(work, 0o700)
    for path in [*work.rglob("*")]:
        shutil.chown(path, NOBODY, NOBODY)
    graded = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", str(checkout / "run_autograder")]
        + ["--submission", str(notebook), "--results", str(work / "results.json"), *options],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", **DEVELOPMENT, **(env or {})},
    )
    assert graded.returncode == 0, graded.stdout[-2000:] + graded.stderr[-2000:]
    results = json.loads((work / "results.json").read_text())
    assert_inert(results)
    assert_only_words_written_on_purpose(results)
    return results, graded.stdout


def test_grading_as_an_ordinary_user_keeps_the_limits_and_says_no_user_switch(checkout):
    results, said = _graded_as_nobody(checkout, solution(), "--no-notebook-output")
    assert results["score"] == FULL_MARKS, results["output"]
    assert "no user switch possible (the grader is not root)" in said
    assert "seccomp (socket() refused for every family" in said
    assert '"memory_bytes": 2147483648' in said


# -- DataLoader workers and multiprocessing (issue 19)
START = "torch.manual_seed(0)\nmodel = ToyModel()\n"
LOADER_TRAINING = (
    START + WARM_START + "from torch.utils.data import DataLoader, TensorDataset\n"
    "loader = DataLoader(TensorDataset(X, Y), batch_size=len(X), num_workers=2, persistent_workers=True)\n"
    "optimizer = torch.optim.Adam(model.parameters(), lr=0.001)\n"
    "for step in range(10):\n"
    "    for X_batch, Y_batch in loader:\n"
    "        optimizer.zero_grad()\n"
    "        loss = mse_loss(model(X_batch), Y_batch)\n"
    "        loss.backward()\n"
    "        optimizer.step()\n"
)
ONE_BATCH = (
    "batches = iter(DataLoader(TensorDataset(X, Y), batch_size=5, num_workers=2, prefetch_factor=4))\n"
    "first = next(batches)\n"
)
POOL_TRAINING = (
    "import multiprocessing\n"
    "def square(n):\n    return n * n\n"
    "with multiprocessing.Pool(2) as pool:\n    squares = pool.map(square, range(10))\n"
    "queue = multiprocessing.Queue()\n"
    "worker = multiprocessing.Process(target=queue.put, args=(sum(squares),))\n"
    "worker.start()\n"
    "assert queue.get(timeout=120) == 285\n"
    "worker.join(timeout=120)\n" + START + WARM_START
)


SHARED_BLOCK = (
    "from multiprocessing import shared_memory\n"
    "block = shared_memory.SharedMemory(create=True, size=16)\n"
    "block.buf[0] = 7\n"
    "assert block.buf[0] == 7\n"
    "block.close()\n"
    "block.unlink()\n"
)


def _with_training(source: str, extra: str = ""):
    nb = solution()
    training = code_cells(nb)[cell_number(nb, START) - 1]
    training.source = source
    if extra:
        nb.cells.insert(nb.cells.index(training) + 1, nbformat.v4.new_code_cell(extra))
    return nb


NOT_FAILED = ["# ValueError"]  # the solution's one failing cell, on purpose


@pytest.mark.slow(9)
@pytest.mark.parametrize("without", ["", "A0_TEST_NO_USER_NAMESPACE"])
def test_dataloader_workers_train_as_an_ordinary_user(checkout, without):
    nb = _with_training(LOADER_TRAINING, ONE_BATCH)
    options = ("--cell-timeout", "120")
    results, said = _graded_as_nobody(checkout, nb, *options, env={without: "1"} if without else {})
    assert results["score"] == FULL_MARKS, results["output"]
    assert results["extra_data"]["failed_cells"] == [cell_number(nb, "# ValueError")]
    fallback = "`DataLoader(num_workers=2)` loaded its batches in the notebook"
    if without:
        assert fallback in results["output"], results["output"]
        assert any(m.startswith("user namespace (no private /dev/shm") for m in results["extra_data"]["not_in_force"])
    else:
        assert fallback not in results["output"]
        assert "user namespace (private /dev/shm)" in results["extra_data"]["in_force"], said[-2000:]


@pytest.mark.slow(9)
@pytest.mark.parametrize("without", ["", "A0_TEST_NO_USER_NAMESPACE"])
def test_multiprocessing_pool_and_queue_as_an_ordinary_user(checkout, without):
    nb = _with_training(POOL_TRAINING, SHARED_BLOCK)
    results, _ = _graded_as_nobody(checkout, nb, "--cell-timeout", "120", env={without: "1"} if without else {})
    training = cell_number(nb, "multiprocessing.Pool(2)")
    if not without:
        assert results["score"] == FULL_MARKS, results["output"]
        assert results["extra_data"]["failed_cells"] == [cell_number(nb, "# ValueError")]
        return
    assert results["score"] == FULL_MARKS - RUBRIC["5.1"].points, results["output"]
    assert training in results["extra_data"]["failed_cells"]
    assert cell_number(nb, "SharedMemory") in results["extra_data"]["failed_cells"]
    assert results["output"].count(NO_SHARED_MEMORY[:60]) >= 1 and "Errno 13" not in results["output"]
    feedback = output_of(results, "5.1")
    assert NO_SHARED_MEMORY in feedback, feedback
    assert "Errno" not in feedback, feedback


HALF_MADE = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
from grader.child import confine

def refused(*args):  # as where a namespace is made without capabilities (Ubuntu 24.04's AppArmor rule)
    raise OSError(1, "mount refused")

confine._mount = refused
before = os.readlink("/proc/self/ns/user"), os.geteuid()
limits = {"cpu_seconds": 60, "memory_bytes": 2**31, "processes": 4096, "file_bytes": 2**26, "open_files": 256}
done = confine.confine({"limits": limits, "workdir": sys.argv[2], "uid": None})
print(json.dumps({"same": [os.readlink("/proc/self/ns/user"), os.geteuid()] == list(before), **done}))
"""


def test_a_user_namespace_that_cannot_be_completed_leaves_the_child_as_it_was(checkout):
    workdir = Path(tempfile.mkdtemp(prefix="work-", dir=checkout))
    shutil.chown(workdir, NOBODY, NOBODY)
    done = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", str(checkout / ".venv/bin/python")]
        + ["-c", HALF_MADE, str(checkout), str(workdir)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["same"], report
    assert any(m.startswith("user namespace (no private /dev/shm") for m in report["not_in_force"]), report
    assert "network namespace" in report["not_in_force"]
