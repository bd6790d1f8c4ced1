"""`make test` says how far it is and about how long is left (project_tests/progress.py)."""

import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT, sandbox_user


@pytest.mark.slow(3)
def test_the_suite_prints_how_many_tests_are_done_and_about_how_long_is_left():
    tests = ["project_tests/test_markdown.py", "project_tests/test_autograd_scan.py"]  # 180, none grades a notebook
    done = subprocess.run(  # one pytest-xdist worker: the controller prints what the worker reports
        [sys.executable, "-m", "pytest", "-n", "1", *tests],
        cwd=ROOT,
        env={**os.environ, "A0_TEST_PROGRESS_SECONDS": "0.2", "A0_SANDBOX_PREFIX": sandbox_user()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    lines = re.findall(r"^suite: (\d+)/(\d+) tests done, [\dms]+ so far, (.*)$", done.stdout, re.MULTILINE)
    total = int(re.search(r"(\d+) passed", done.stdout).group(1))
    assert lines and all(int(m) == total for _, m, _ in lines), done.stdout[-3000:]
    counts = [int(n) for n, _, _ in lines]
    assert counts == sorted(counts) and counts[-1] <= total
    assert any(re.fullmatch(r"about [\dms]+ left", left) for n, _, left in lines if 0 < int(n) < total), lines


def test_a_running_slow_test_counts_for_the_time_it_has_run():
    """The slow tests run first: before any has finished, the estimate rests on how long they have run."""
    import progress

    class Config:
        pluginmanager = None

    estimate = progress.Progress(Config())
    try:
        now = progress.time.monotonic()
        estimate.started, estimate.total = now - 30, 3
        estimate.expected = {"slow": 80.0, "slower": 100.0, "short": 20.0}
        estimate.running = {"slow": now - 30, "slower": now - 30}  # 60 of 200 expected seconds in 30 s
        assert estimate.line() == "suite: 0/3 tests done, 30s so far, about 1m10s left"
        estimate.running["slow"] = now - 200  # run longer than expected: it counts as its expected seconds
        estimate.done.add("short")
        assert estimate.line() == "suite: 1/3 tests done, 30s so far, about 16s left"  # 130 of 200 in 30 s
    finally:
        estimate.pytest_sessionfinish()
