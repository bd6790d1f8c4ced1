"""A TA's laptop that is not Linux-as-root: the child applies what the platform offers and says what it
could not; grading a checkout changes none of its files."""

import json
import os
import subprocess
import sys
import textwrap

from conftest import ROOT, grade, save, solution

SIMULATED = textwrap.dedent("""
    import json, os, resource, sys
    sys.path.insert(0, sys.argv[1])
    from grader.child import confine
    confine._libc = None                      # no prctl, seccomp, unshare or mount (macOS, other libcs)
    def no_oom():
        raise OSError("no /proc")
    confine._oom_first = no_oom                # no /proc/self/oom_score_adj
    real = resource.setrlimit
    def setrlimit(kind, value):
        if kind == resource.RLIMIT_AS:
            raise ValueError("not supported")  # macOS has no address-space limit
        real(kind, value)
    resource.setrlimit = setrlimit
    limits = {"cpu_seconds": 60, "memory_bytes": 2**31, "processes": 4096, "file_bytes": 2**26, "open_files": 256}
    done = confine.confine({"limits": limits, "workdir": sys.argv[2], "uid": None, "hide": ["/nonexistent"]})
    print(json.dumps(done))
""")


def test_a_platform_without_linux_protections_degrades_and_says_so(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SIMULATED, str(ROOT), str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    missing = set(report["not_in_force"])
    assert {"network namespace", "oom_score_adj", "RLIMIT_AS", "no_new_privs", "seccomp network filter"} <= missing
    assert any(m.startswith("mount namespace") for m in missing)
    assert "RLIMIT_CPU" not in missing and "RLIMIT_NPROC" not in missing  # what the platform has still applies


def test_grading_a_checkout_changes_no_mode_of_its_files(tmp_path):
    before = {p.name: os.stat(p).st_mode for p in ROOT.iterdir()}
    grade(save(solution(), tmp_path / "submission").parent, tmp_path / "results.json")
    assert {p.name: os.stat(p).st_mode for p in ROOT.iterdir() if p.name in before} == before
