"""`make bench-warm`: what a grading costs started cold (./run_autograder, a grading on Gradescope) and with its
children forked by a warm start (grader.serve: the batch's job slots, the project's tests).

The same notebook (the solution with its training cell replaced by the trained weights, as the test suite grades
it, so that the cost of starting shows) is graded --repeat times each way, interleaved; for each way the median
wall time and CPU time (the grader's processes and all they waited for, from getrusage; the warm process's first
start is counted in the first warm grading, and the table also shows the median without it). Prints numbers,
never asserts."""

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "project_tests")]

from conftest import FULL_MARKS, job, run_grader, sandbox_user, save, solution  # noqa: E402

from grader.serve import Server  # noqa: E402


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    times = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory() as folder:
        submission = save(solution(), Path(folder) / "submission")
        server = Server()
        for n in range(repeat):
            for way in ("cold", "warm"):
                results = Path(folder) / f"{way}-{n}" / "results.json"
                started, used = time.monotonic(), cpu()
                if way == "cold":
                    run_grader(submission.parent, results, "--sandbox-user", sandbox_user())
                else:
                    argv = ["--submission", str(submission.parent), "--results", str(results)]
                    assert server.grade(job([*argv, "--sandbox-user", sandbox_user()]), log=os.devnull) == 0
                if way == "warm" and n == repeat - 1:
                    server.close()  # its CPU time is counted once it has been waited for
                times[way].append((time.monotonic() - started, cpu() - used))
                assert json.loads(results.read_text())["score"] == FULL_MARKS
    # the server's own CPU is only counted when it ends: spread it over the warm gradings
    warm_cpu = sum(c for _, c in times["warm"])
    times["warm"] = [(wall, warm_cpu / repeat) for wall, _ in times["warm"]]
    print(f"{'':6} {'wall (median)':>14} {'wall w/o 1st':>13} {'CPU per grading':>16}")
    for way, rows in times.items():
        walls = [wall for wall, _ in rows]
        print(
            f"{way:6} {statistics.median(walls):13.2f}s {statistics.median(walls[1:] or walls):12.2f}s "
            f"{statistics.median([c for _, c in rows]):15.2f}s"
        )
    cold, warm = (statistics.median([c for _, c in times[w]]) for w in ("cold", "warm"))
    print(f"CPU warm/cold: {warm / cold:.2f} ({repeat} gradings each way, the warm start's own start included)")


if __name__ == "__main__":
    main()
