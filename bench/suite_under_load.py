"""`make bench-suite` (issue 11): how long `make test` takes on a busy machine, against its 4-minute goal.

Starts --busy CPU-bound processes (a Python `while True: pass` each, like another job sharing CI's cores), runs
`make test` beside them, and prints its wall time, its exit status, the slowest tests and the ratio to the goal.
Then the same without them, unless --loaded-only. The busy processes are killed however the run ends. It prints
numbers and never asserts: a busy machine is noisy, run it twice and compare.
"""

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 240
BUSY = "while True:\n    pass"


def run_suite(command: list, busy: int) -> tuple:
    spinners = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(busy)]
    try:
        started = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)
        return time.monotonic() - started, done
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busy", type=int, default=2, help="CPU-bound processes beside the suite (default: 2)")
    parser.add_argument("--loaded-only", action="store_true", help="skip the run without busy processes")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments, such as -k EXPRESSION")
    args = parser.parse_args()
    extra = " ".join(["-q", "-p", "no:cacheprovider", "--durations=8", *args.pytest_args])
    command = ["make", "--no-print-directory", "test", f"PYTEST_ARGS={extra}"]  # the README's command, as CI runs it
    for busy in [args.busy] if args.loaded_only else [args.busy, 0]:
        seconds, done = run_suite(command, busy)
        summary = (re.findall(r"^=* ?(\d+ (?:passed|failed|error).*?) ?=*$", done.stdout, re.M) or ["(no summary)"])[-1]
        print(f"\n{busy} busy process(es): {seconds:.0f} s, exit {done.returncode}: {summary}")
        print(f"  {seconds / GOAL_SECONDS:.2f} of the {GOAL_SECONDS} s goal")
        for line in re.findall(r"^\s*\d+\.\d+s (?:call|setup|teardown) .*$", done.stdout, re.M):
            print("  " + line.strip())
        if done.returncode:
            print(done.stdout[-3000:])


if __name__ == "__main__":
    main()
