"""Gradescope parity (issue 4): the built zip, unpacked and set up like /autograder, grades with no arguments."""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import jsonschema
import pytest
from conftest import FULL_MARKS, ROOT, SCHEMA, save, sandbox_user, solution

CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"   # like Gradescope's image


def build_zip(target: Path) -> Path:
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_zip.py"), str(target)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return target


def test_zip_holds_setup_and_an_executable_run_autograder_and_nothing_private(tmp_path):
    with zipfile.ZipFile(build_zip(tmp_path / "autograder.zip")) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    assert {"setup.sh", "run_autograder", "requirements.txt"} <= set(infos)
    assert (infos["run_autograder"].external_attr >> 16) & stat.S_IXUSR
    assert any(name.startswith("grader/") for name in infos) and any(name.startswith("tests/") for name in infos)
    leaked = [n for n in infos if n.startswith(("solution/", "project_tests/")) or "__pycache__" in n
              or n.endswith(".pyc") or n == "grader/batch.py" or n.startswith("grader/report/")]
    assert leaked == []


@pytest.fixture
def autograder_root():
    """A fresh folder laid out like /autograder. Not pytest's tmp_path: its parents are closed to other users,
    and the sandbox user must reach root/venv like it reaches /autograder/venv."""
    root = Path(tempfile.mkdtemp(prefix="a0-parity-", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_built_zip_grades_the_solution_in_gradescopes_layout(tmp_path, autograder_root):
    root = autograder_root
    zip_path = build_zip(tmp_path / "autograder.zip")
    unzipped = subprocess.run(["unzip", "-q", str(zip_path), "-d", str(root / "source")], timeout=60)
    assert unzipped.returncode == 0

    # Installing torch again would take minutes. Instead root/venv is a real, empty venv whose site-packages
    # holds a .pth line pointing at the project venv's site-packages: setup.sh keeps an existing venv, and its
    # `pip install -r requirements.txt` still really runs and checks every pinned package, finding each one
    # already satisfied (TORCH_INDEX= so it does not contact the PyTorch index). A copy of the project venv would
    # cost gigabytes; a symlink farm would break the venv's own paths. The new venv has no pip of its own: the
    # project venv's pip, reached through the .pth file, installs into root/venv like a pip of its own would.
    project_python = ROOT / ".venv" / "bin" / "python"
    subprocess.run([str(project_python), "-m", "venv", "--without-pip", str(root / "venv")], check=True, timeout=60)
    project_site = subprocess.run([str(project_python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    venv_site = subprocess.run([str(root / "venv" / "bin" / "python"), "-c",
                                "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    (Path(venv_site) / "project_venv.pth").write_text(project_site + "\n")

    env = {**os.environ, "PATH": CLEAN_PATH, "AUTOGRADER_ROOT": str(root), "TORCH_INDEX": ""}
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True,
                           timeout=300)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert f"setup.sh: environment ready in {root / 'venv'}" in setup.stdout
    for private in ("grader", "tests"):
        assert stat.S_IMODE((root / "source" / private).stat().st_mode) & 0o077 == 0

    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")   # as Gradescope does
    save(solution(), root / "submission")   # the fast variant: full marks in a third of the time
    env = {"PATH": CLEAN_PATH, "A0_SANDBOX_USER": sandbox_user() + "-parity"}   # apart from concurrent gradings
    graded = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                            timeout=600)
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == FULL_MARKS, results["output"]
    assert all(test["status"] == "passed" for test in results["tests"])
    assert f"child runs as user `{env['A0_SANDBOX_USER']}`" in graded.stdout
