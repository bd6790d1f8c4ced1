"""`make gradescope-check` offline: torch from a wheel pip already finds on this machine, or one line saying what
it needs, before anything is built or installed (tools/gradescope_check.py)."""

import importlib
import os
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
check = importlib.import_module("gradescope_check")
TORCH = check.torch_requirement()
VERSION = TORCH.split("==")[1]


@pytest.fixture
def only(monkeypatch, tmp_path):
    """pip's find-links is only the folder returned (no configuration file); the torch index refuses connections."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    monkeypatch.setenv("TORCH_INDEX", "http://127.0.0.1:9/whl/cpu")
    return tmp_path


@pytest.mark.skipif(os.geteuid() != 0, reason="without Docker the check needs root")
def test_offline_without_a_torch_wheel_it_says_in_one_line_what_it_needs(only, monkeypatch, capsys):
    monkeypatch.setattr(check, "docker_usable", lambda: False)
    monkeypatch.setattr(
        check.build_zip, "build", lambda path: pytest.fail("built the zip before knowing torch's source")
    )
    assert check.main() == 2
    said = capsys.readouterr().err.splitlines()
    assert len(said) == 1 and said[0].startswith(f"gradescope-check: needs {TORCH} (cp"), said
    assert "127.0.0.1:9/whl/cpu is unreachable" in said[0] and f"find-links ({only})" in said[0], said
    assert "PIP_FIND_LINKS=that-folder make gradescope-check" in said[0] and "TORCH_INDEX=url" in said[0]


def test_a_torch_wheel_in_pips_find_links_is_installed_without_any_index(only):
    for name in (f"torch-{VERSION}1-cp310-cp310-linux_x86_64.whl", f"torch-{VERSION}+cpu-cp39-cp39-linux_x86_64.whl"):
        (only / name).touch()  # another version; another Python
    folders = check.find_links()
    assert folders == [str(only)]
    assert check.torch_source(TORCH, os.environ["TORCH_INDEX"], folders, "cp310")[0] is None
    wheel = only / f"torch-{VERSION}+cpu-cp310-cp310-manylinux_2_28_x86_64.whl"
    wheel.touch()
    env, said = check.torch_source(TORCH, os.environ["TORCH_INDEX"], folders, "cp310")
    assert env == {"TORCH_INDEX": "", "PIP_FIND_LINKS": str(only)} and said == f"{TORCH} from {wheel}"


@pytest.mark.skipif(os.geteuid() != 0, reason="without Docker the check needs root")
def test_the_temporary_layout_is_a_tmpfs_of_its_own_that_the_end_removes(capsys):
    root, tmpfs = check.make_root()
    try:
        assert root.is_dir() and root.stat().st_mode & 0o777 == 0o700
        (root / "venv").mkdir()
        (root / "venv" / "torch.so").write_bytes(b"\0" * 1_000_000)
        mounts = open("/proc/self/mounts").read().split("\n")
        assert tmpfs == any(f" {root} tmpfs " in line for line in mounts)  # where mount works, as here
    finally:
        check.remove_root(root, tmpfs)
    assert not root.exists() and f" {root} " not in open("/proc/self/mounts").read()
    assert f"gradescope-check: removed {root} in" in capsys.readouterr().out
