"""The suite runs beside a TA's batch on the same machine: its sandbox users, leases and batch lock are its own
(conftest.py), so it neither waits for, nor is refused by, nor kills anything of a batch on the default users."""

import concurrent.futures
import csv
import json
import os
import re
import signal
import subprocess
import sys

import pytest
from conftest import FULL_MARKS, ROOT, SERVER, job, processes_of, save, solution

# A TA's batch, as the suite sees it: the default prefix's batch lock, and a leased default sandbox user running
# a notebook's process. Prints what it holds; on end of stdin, whether that process is still alive.
TA_BATCH = """
import subprocess, sys
sys.path.insert(0, sys.argv[1])
from grader import batch
from grader.sandbox.lease import lease
try:
    held = batch.lock("a0sandbox")
    print("lock: held", flush=True)
except SystemExit:  # a real batch holds it: the suite must pass beside that one all the same
    print("lock: a real batch", flush=True)
with lease("a0sandbox") as user:
    notebook = subprocess.Popen(["sleep", "120"], user=user.uid, group=user.gid, extra_groups=[])
    print("user:", user.name, user.uid, notebook.pid, flush=True)
    sys.stdin.read()
    print("notebook:", "running" if notebook.poll() is None else "killed", flush=True)
    notebook.kill()
"""


@pytest.mark.slow(12)
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: sandbox users")
def test_a_batch_and_a_grading_of_the_suite_pass_beside_a_ta_batch_on_the_default_sandbox_users(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("A0_SANDBOX")}  # the TA's: the defaults
    ta = subprocess.Popen(
        [sys.executable, "-c", TA_BATCH, str(ROOT)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert ta.stdout.readline().startswith("lock: ")
        name, uid, pid = ta.stdout.readline().split()[1:]
        assert re.fullmatch(r"a0sandbox(-\d+)?", name)
        export = tmp_path / "export"
        save(solution(), export / "submission_1")
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            # as the suite's processes start: only conftest's environment, no prefix or user named
            batch = pool.submit(
                subprocess.run,
                [sys.executable, "-m", "grader.batch", str(export), str(tmp_path / "out"), "--jobs", "1"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=600,
            )
            argv = ["--submission", str(export / "submission_1"), "--results", str(tmp_path / "results.json")]
            grading = pool.submit(SERVER.grade, job(argv), log=tmp_path / "log.txt", timeout=600)  # no user pinned
            done, graded = batch.result(), grading.result()
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert graded == 0 and json.loads((tmp_path / "results.json").read_text())["score"] == FULL_MARKS
        with open(tmp_path / "out" / "grades.csv", newline="", encoding="utf-8-sig") as f:
            assert [row["total"] for row in csv.DictReader(f)] == [f"{FULL_MARKS:g}"]
        user = re.search(r"child runs as user `([^`]+)`", (tmp_path / "log.txt").read_text()).group(1)
        assert user.startswith(os.environ["A0_SANDBOX_PREFIX"]) and not user.startswith("a0sandbox"), user
        assert int(pid) in processes_of(int(uid))  # the TA's notebook still runs
        said = ta.communicate("", timeout=60)[0]
        assert said == "notebook: running\n" and ta.returncode == 0, said
    finally:
        if ta.poll() is None:
            os.killpg(ta.pid, signal.SIGKILL)  # with its notebook, which a lease of that user would sweep anyway
            ta.wait(timeout=60)
