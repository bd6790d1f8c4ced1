"""One course secret, carried and never made by accident: a checkout without it is refused before it grades, with
the one command that fixes it; `make secret FROM=autograder.zip` gives a second TA's clone the course's, and the two
clones then grade a notebook identically; `make secret` never replaces one."""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import FORWARD, ROOT, edit_cell, grader_copy, sandbox_user, save, solution

from grader.secret import DEVELOPMENT_ENV, fingerprint

WITHOUT_DEVELOPMENT = {k: v for k, v in os.environ.items() if k != DEVELOPMENT_ENV}  # as a TA's shell


def clone(folder: Path) -> Path:
    """A checkout of the grader with what `make zip` and `make secret` need, and no .grader-secret."""
    grader_copy(folder)
    (folder / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "build_zip.py", folder / "tools" / "build_zip.py")
    for name in ("setup.sh", "requirements.txt", "constraints.txt"):
        shutil.copy(ROOT / name, folder / name)
    return folder


def tool(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(checkout / "tools" / "build_zip.py"), *args],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=60,
        env=WITHOUT_DEVELOPMENT,
    )


def grade(checkout: Path, notebook: Path, results: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(checkout / "run_autograder"), "--submission", str(notebook), "--results", str(results)]
        + ["--sandbox-user", sandbox_user() + "-secret", "--no-notebook-output"],
        capture_output=True,
        text=True,
        timeout=600,
        env=WITHOUT_DEVELOPMENT,
    )


def test_make_secret_makes_one_only_when_asked_takes_the_courses_and_never_replaces_one(tmp_path):
    first, second = clone(tmp_path / "first"), clone(tmp_path / "second")

    asked = tool(first, "--secret")  # `make secret` alone: what to do, nothing made
    assert asked.returncode == 2 and not (first / ".grader-secret").exists()
    assert "make secret FROM=autograder.zip" in asked.stderr and "make secret NEW=1" in asked.stderr
    refused = tool(first, str(tmp_path / "autograder.zip"))  # `make zip` without a secret
    assert refused.returncode != 0 and "make secret FROM=autograder.zip" in refused.stderr
    assert not (tmp_path / "autograder.zip").exists()

    made = tool(first, "--secret", "--new")
    secret = (first / ".grader-secret").read_bytes()
    assert made.returncode == 0 and "made a NEW course secret" in made.stdout and fingerprint(secret) in made.stdout
    assert len(secret) == 32 and stat.S_IMODE((first / ".grader-secret").stat().st_mode) == 0o600
    again = tool(first, "--secret", "--new")
    assert again.returncode == 2 and "kept" in again.stdout and (first / ".grader-secret").read_bytes() == secret
    assert tool(first, str(tmp_path / "autograder.zip")).returncode == 0

    taken = tool(second, "--secret", "--from", str(tmp_path / "autograder.zip"))
    assert taken.returncode == 0 and f"the course's, taken from {tmp_path / 'autograder.zip'}" in taken.stdout
    assert (second / ".grader-secret").read_bytes() == secret
    assert stat.S_IMODE((second / ".grader-secret").stat().st_mode) == 0o600

    other = tmp_path / "other.zip"  # another course's zip never replaces the secret a clone has
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr(".grader-secret", os.urandom(32))
    clash = tool(second, "--secret", "--from", str(other))
    assert clash.returncode == 2 and "REFUSED" in clash.stderr and "differs from the one in" in clash.stderr
    assert (second / ".grader-secret").read_bytes() == secret
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("setup.sh", "")
    empty = clone(tmp_path / "third")
    missing = tool(empty, "--secret", "--from", str(other))
    assert missing.returncode == 2 and "holds no .grader-secret" in missing.stderr


@pytest.mark.slow(13)
def test_a_second_clone_is_refused_before_it_grades_then_grades_identically(tmp_path):
    first, second = clone(tmp_path / "first"), clone(tmp_path / "second")
    assert tool(first, "--secret", "--new").returncode == 0
    assert tool(first, str(tmp_path / "autograder.zip")).returncode == 0  # the zip the first TA uploads
    # 1.2's message quotes a distance that depends on the inputs, so on the secret
    notebook = save(edit_cell(solution(), FORWARD, "h = z1.relu()", "h = z1.sigmoid()"), tmp_path / "submission")

    refused = grade(second, notebook, tmp_path / "second" / "results.json")
    assert refused.returncode == 2 and not (tmp_path / "second" / "results.json").exists()
    assert "no course secret" in refused.stderr and "make secret FROM=autograder.zip" in refused.stderr
    batch = subprocess.run(
        [sys.executable, "-m", "grader.batch", str(notebook.parent), str(tmp_path / "out")],
        cwd=second,
        capture_output=True,
        text=True,
        timeout=120,
        env={**WITHOUT_DEVELOPMENT, "A0_SANDBOX_PREFIX": sandbox_user() + "-secret"},
    )
    assert batch.returncode == 2 and "make secret FROM=autograder.zip" in batch.stderr
    assert not (tmp_path / "out").exists()
    one = subprocess.run(  # make grade
        [sys.executable, "-m", "grader.one", str(notebook), str(tmp_path / "grade-out")],
        cwd=second,
        capture_output=True,
        text=True,
        timeout=120,
        env=WITHOUT_DEVELOPMENT,
    )
    assert one.returncode == 2 and "make secret FROM=autograder.zip" in one.stderr
    assert not (tmp_path / "grade-out").exists()

    assert tool(second, "--secret", "--from", str(tmp_path / "autograder.zip")).returncode == 0
    graded = [grade(c, notebook, tmp_path / c.name / "results.json") for c in (first, second)]
    assert all(g.returncode == 0 for g in graded), [g.stderr[-2000:] for g in graded]
    ours, theirs = (json.loads((tmp_path / c.name / "results.json").read_text()) for c in (first, second))
    assert ours["tests"] == theirs["tests"] and ours["score"] == theirs["score"]
    assert "differs from sigmoid(relu(x W1 + B1) W2 + B2) by up to" in json.dumps(ours["tests"])
    secret = fingerprint((first / ".grader-secret").read_bytes())
    assert ours["extra_data"]["secret"] == theirs["extra_data"]["secret"] == secret
    assert ours["extra_data"]["grader_version"] == theirs["extra_data"]["grader_version"]
    assert f"the course's secret {secret}" in graded[1].stdout  # the terminal names it, to compare by eye
