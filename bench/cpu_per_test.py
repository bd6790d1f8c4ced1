"""A pytest plugin: the CPU-seconds each test costs, its worker's whole process tree counted (the worker's
grader.serve and the sandbox user's processes it forks live long, so getrusage's children miss them). Use:
`.venv/bin/python -m pytest -p bench.cpu_per_test -n 4 --dist worksteal project_tests`; each worker appends
"nodeid<TAB>cpu<TAB>wall" lines to A0_TEST_CPU (default /tmp/a0test-cpu.tsv); `python bench/cpu_per_test.py FILE`
prints the top files and tests."""

import os
import sys
import time
from collections import defaultdict

TICK = os.sysconf("SC_CLK_TCK")
OUT = os.environ.get("A0_TEST_CPU", "/tmp/a0test-cpu.tsv")


def _tree_cpu(root: int) -> float:
    """utime+stime of root and of every live descendant, plus what its reaped children cost (cutime+cstime)."""
    parent, cpu = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(name)
        parent[pid] = int(fields[1])
        cpu[pid] = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    total = 0
    for pid in cpu:
        walk, seen = pid, 0
        while walk and seen < 64:
            if walk == root:
                total += cpu[pid]
                break
            walk, seen = parent.get(walk, 0), seen + 1
    return total / TICK


_START: dict = {}


def pytest_runtest_setup(item):
    _START[item.nodeid] = (_tree_cpu(os.getpid()), time.monotonic())


def pytest_runtest_logreport(report):
    if report.when != "teardown" or report.nodeid not in _START:
        return
    cpu, wall = _START.pop(report.nodeid)
    with open(OUT, "a") as f:
        f.write(f"{report.nodeid}\t{_tree_cpu(os.getpid()) - cpu:.2f}\t{time.monotonic() - wall:.2f}\n")


if __name__ == "__main__":
    by_file: dict = defaultdict(lambda: [0.0, 0.0, 0])
    tests = []
    for line in open(sys.argv[1] if len(sys.argv) > 1 else OUT):
        nodeid, cpu, wall = line.rstrip("\n").split("\t")
        row = by_file[nodeid.split("::")[0]]
        row[0] += float(cpu)
        row[1] += float(wall)
        row[2] += 1
        tests.append((float(cpu), float(wall), nodeid))
    print(f"{'CPU-s':>7} {'wall-s':>7} {'tests':>5}  file   (total CPU {sum(r[0] for r in by_file.values()):.0f} s)")
    for name, (cpu, wall, n) in sorted(by_file.items(), key=lambda kv: -kv[1][0])[:15]:
        print(f"{cpu:7.1f} {wall:7.1f} {n:5d}  {name}")
    print()
    for cpu, wall, nodeid in sorted(tests, reverse=True)[:25]:
        print(f"{cpu:7.1f} {wall:7.1f}  {nodeid}")
