"""Gradescope's Ubuntu 22.04 runs Python 3.10: every shipped file compiles there, and constraints.txt is what
`make lock` resolved for it (and for this machine's Python) from today's requirements."""

import glob
import subprocess

import pytest
from conftest import ROOT

from tools import lock

PY310 = next(iter(sorted(glob.glob("/root/.pyenv/versions/3.10*/bin/python"))), None)
needs_310 = pytest.mark.skipif(PY310 is None, reason="no pyenv Python 3.10 under /root/.pyenv/versions")


@needs_310
def test_every_grader_file_compiles_under_python_310():
    files = [
        str(p) for folder in ("grader", "assignments", "tests", "tools") for p in sorted((ROOT / folder).rglob("*.py"))
    ]
    check = "import sys\nfor f in sys.argv[1:]:\n    compile(open(f, encoding='utf-8').read(), f, 'exec')"
    done = subprocess.run([PY310, "-c", check, *files], capture_output=True, text=True, timeout=120)
    print(f"compiled {len(files)} files with {PY310}")
    assert done.returncode == 0, done.stderr


def test_constraints_are_make_locks_output_for_todays_requirements(tmp_path, monkeypatch, capsys):
    """Offline: constraints.txt carries the digest `make lock` wrote of the requirements and of its pins. Whether
    every pin still installs on 3.10 asks the package index: `make lock-check`, which CI runs after the suite."""
    assert lock.stamp_problem(ROOT / "constraints.txt") is None

    edited = tmp_path / "constraints.txt"
    edited.write_text((ROOT / "constraints.txt").read_text().replace("\nnumpy==", "\nnumpy==1.26.4\n# numpy=="))
    assert "a pin was edited by hand): run `make lock`" in lock.stamp_problem(edited)
    if PY310:
        assert lock.check(PY310, edited) == 1  # refused before the index is asked
        assert "lock-check: constraints.txt is not what `make lock` made" in capsys.readouterr().err

    requirements = []
    for path in lock.REQUIREMENTS:
        requirements.append(tmp_path / path.name)
        requirements[-1].write_text(path.read_text())
    monkeypatch.setattr(lock, "REQUIREMENTS", requirements)
    assert lock.stamp_problem(ROOT / "constraints.txt") is None
    requirements[1].write_text(requirements[1].read_text() + "rich==14.0.0\n")  # added without make lock
    assert "run `make lock`" in lock.stamp_problem(ROOT / "constraints.txt")
