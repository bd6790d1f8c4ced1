"""Command line: `python -m grader --submission PATH --results FILE [options]`. Exit status 0 once results exist."""
import argparse
import os
import sys
from pathlib import Path

from .grade import Interrupted, grade
from .settings import MIB, Settings
from .terminal import print_table


def main(argv=None):
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="run_autograder", description=__doc__)
    parser.add_argument("--submission", type=Path, default=Path("/autograder/submission"),
                        help="a notebook, or a folder holding one (default: Gradescope's)")
    parser.add_argument("--results", type=Path, default=Path("/autograder/results/results.json"))
    parser.add_argument("--cell-timeout", type=float, default=defaults.cell_timeout, help="seconds per cell")
    parser.add_argument("--timeout", type=float, default=defaults.total_timeout, help="seconds for the whole run")
    parser.add_argument("--probe-timeout", type=float, default=defaults.probe_timeout)
    parser.add_argument("--memory-mb", type=int, default=defaults.limits.memory_bytes // MIB)
    parser.add_argument("--cpu-seconds", type=int, default=defaults.limits.cpu_seconds)
    parser.add_argument("--max-processes", type=int, default=defaults.limits.processes)
    parser.add_argument("--file-mb", type=int, default=defaults.limits.file_bytes // MIB)
    parser.add_argument("--sandbox-user", default=None,
                        help="pin this sandbox user (default: lease a free one of a0sandbox, a0sandbox-1, ...)")
    parser.add_argument("--ta-files", type=Path, default=None,
                        help="also write the notebook rendered to HTML and the Exercise 3 answer's images here")
    parser.add_argument("--hide", type=Path, action="append", default=[],
                        help="a folder student code must not see (repeatable; batch passes the export and output)")
    parser.add_argument("--quiet", action="store_true", help="do not print the summary table")
    parser.add_argument("--no-notebook-output", action="store_true",
                        help="do not print what the notebook printed (the instructor log on Gradescope shows it)")
    args = parser.parse_args(argv)
    settings = Settings(cell_timeout=args.cell_timeout, total_timeout=args.timeout, probe_timeout=args.probe_timeout,
                        sandbox_user=args.sandbox_user)
    limits = settings.limits
    limits.memory_bytes, limits.cpu_seconds = args.memory_mb * MIB, args.cpu_seconds
    limits.processes, limits.file_bytes = args.max_processes, args.file_mb * MIB
    try:
        results = grade(args.submission, args.results, settings, log_output=not args.no_notebook_output,
                        ta_dir=args.ta_files, hide=args.hide)
    except Interrupted:
        print("run_autograder: interrupted; the sandbox was cleaned up and results.json says so", file=sys.stderr)
        os._exit(130)
    if not args.quiet:
        print_table(results, args.results)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)   # results.json is written; skipping the interpreter's teardown saves about 0.1 s


if __name__ == "__main__":
    main()
