"""A fresh clone in a folder closed to other users grades as root; `make zip` needs no venv; `make run`
fails unless the solution gets full marks."""

import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest
from conftest import FULL_MARKS, ROOT, sandbox_user

pytestmark = pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout: nothing to clone")


def make(folder: Path, *args: str, timeout: float = 1200):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}  # not the outer make's
    env["A0_SANDBOX_USER"] = sandbox_user() + "-make"
    return subprocess.run(["make", "-C", str(folder), *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def closed_clone():
    """A clone of this checkout's HEAD in a folder of mode 700, like `mktemp -d` or anything under /root."""
    folder = Path(tempfile.mkdtemp(prefix="a0-clone-"))
    assert folder.stat().st_mode & 0o777 == 0o700
    subprocess.run(["git", "clone", "-q", str(ROOT), str(folder / "a0")], check=True, timeout=120)
    yield folder / "a0"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow(16)
@pytest.mark.skipif(os.geteuid() != 0, reason="as another user the child runs as that user: no folder is closed")
def test_a_clone_in_a_closed_folder_grades_the_solution_as_root(closed_clone):
    done = make(closed_clone, "run")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"child runs as user `{sandbox_user()}-make`" in done.stdout
    assert "make run: full marks (15/15)" in done.stdout
    assert "make run: no course secret (.grader-secret): grading with the development secret" in done.stdout
    assert not (closed_clone / ".grader-secret").exists()  # make run never makes one
    results = json.loads((closed_clone / "out" / "solution" / "results.json").read_text())
    assert results["score"] == FULL_MARKS
    venv = closed_clone / ".venv"
    assert venv.is_symlink() and str(venv.resolve()).startswith("/opt/a0-autograder/venv-")


def test_make_zip_works_on_a_fresh_clone_without_a_venv(closed_clone):
    refused = make(closed_clone, "zip", timeout=120)  # no course secret yet: never made by accident
    assert refused.returncode != 0 and "make secret FROM=autograder.zip" in refused.stderr
    assert not (closed_clone / ".grader-secret").exists() and not (closed_clone / "autograder.zip").exists()
    made = make(closed_clone, "secret", "NEW=1", timeout=120)
    assert made.returncode == 0 and "made a NEW course secret" in made.stdout, made.stdout + made.stderr
    done = make(closed_clone, "zip", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (closed_clone / ".venv").exists()
    with zipfile.ZipFile(closed_clone / "autograder.zip") as archive:
        assert {"setup.sh", "run_autograder", "requirements.txt", "constraints.txt"} <= set(archive.namelist())


def test_make_run_fails_when_the_notebook_does_not_get_full_marks(tmp_path):
    done = make(ROOT, "run", "SOLUTION=source/A0.ipynb", f"OUT={tmp_path}")  # the template: 0 points
    assert done.returncode != 0
    assert "not full marks" in done.stderr
    assert json.loads((tmp_path / "solution" / "results.json").read_text())["score"] == 0
