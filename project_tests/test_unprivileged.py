"""On a TA's laptop the grader is not root: no user switch, the same limits, and the log says so."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import FULL_MARKS, ROOT, save, solution

NOBODY = 65534


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_grading_as_an_ordinary_user_keeps_the_limits_and_says_no_user_switch():
    root = Path(tempfile.mkdtemp(prefix="a0-unprivileged-", dir="/tmp"))
    try:
        os.chmod(root, 0o755)
        for folder in ("grader", "assignments", "tests"):
            shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(ROOT / "run_autograder", root / "run_autograder")
        subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True, timeout=30)  # graded as root, the
        (root / ".venv").symlink_to(os.path.realpath(ROOT / ".venv"))  # checkout is root-only
        work = root / "work"
        notebook = save(solution(), work / "submission")
        shutil.chown(work, NOBODY, NOBODY)
        os.chmod(work, 0o700)
        for path in [*work.rglob("*")]:
            shutil.chown(path, NOBODY, NOBODY)
        graded = subprocess.run(
            [
                "setpriv",
                f"--reuid={NOBODY}",
                f"--regid={NOBODY}",
                "--clear-groups",
                str(root / "run_autograder"),
                "--submission",
                str(notebook),
                "--results",
                str(work / "results.json"),
                "--no-notebook-output",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={"PATH": "/usr/bin:/bin"},
        )
        assert graded.returncode == 0, graded.stdout[-2000:] + graded.stderr[-2000:]
        results = json.loads((work / "results.json").read_text())
        assert results["score"] == FULL_MARKS, results["output"]
        assert "no user switch possible (the grader is not root)" in graded.stdout
        assert "seccomp (socket() refused for every family" in graded.stdout
        assert '"memory_bytes": 2147483648' in graded.stdout
    finally:
        shutil.rmtree(root, ignore_errors=True)
