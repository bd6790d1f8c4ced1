"""Grade one notebook: `run_autograder --submission PATH [--results FILE] [options]`.

On Gradescope (run_autograder in /autograder, the grader in /autograder/source) no option is needed: the
submission is /autograder/submission and the results go to /autograder/results/results.json. Exit status 0 once
results.json is written, whatever the score; 2 for a mistake on the command line, the graded assignment's
declaration included (grader/assignment.py `load`), or a checkout without the course's secret `.grader-secret`:
nothing is graded then."""

import argparse
import os
import sys
from pathlib import Path

from . import secret
from .assignment import AuthoringError, load
from .grade import Job, grade_job
from .settings import add_options, from_options
from .terminal import print_table

GRADESCOPE = Path("/autograder")


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    def _get_help_string(self, action):  # no "(default: None)" where the help says what happens
        return action.help if action.default is None else super()._get_help_string(action)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run_autograder", description=__doc__, formatter_class=_Help)
    parser.add_argument("--gradescope-root", type=Path, help=argparse.SUPPRESS)  # set by run_autograder
    parser.add_argument(
        "--submission",
        metavar="PATH",
        type=Path,
        help="the notebook to grade, or a folder holding one (required, except in Gradescope's "
        "layout where it is ROOT/submission)",
    )
    parser.add_argument(
        "--results",
        metavar="FILE",
        type=Path,
        help="where to write results.json (default: out/<submission name>/results.json in the "
        "current folder; in Gradescope's layout ROOT/results/results.json)",
    )
    add_options(parser)  # every timeout and limit, from its declaration in grader/settings.py
    parser.add_argument(
        "--ta-files",
        metavar="DIR",
        type=Path,
        help="also write the notebook rendered to HTML and the hand-graded answer's images here",
    )
    parser.add_argument(
        "--hide",
        metavar="DIR",
        type=Path,
        action="append",
        default=[],
        help="a folder student code must not see (repeatable; the batch passes its export and output)",
    )
    parser.add_argument(
        "--writable",
        metavar="DIR",
        type=Path,
        action="append",
        default=[],
        help="a folder student code may also write under Landlock (repeatable; for the project's own tests)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print the summary table")
    parser.add_argument(
        "--no-notebook-output",
        action="store_true",
        help="do not print what the notebook printed (the instructor log on Gradescope shows it)",
    )
    args = parser.parse_args(argv)
    root = args.gradescope_root
    try:
        load(args.assignment)  # an author's mistake is the author's to fix: no student reads about it
    except AuthoringError as error:
        parser.exit(2, f"{parser.prog}: the assignment {args.assignment} cannot be graded: {error}\n")

    if args.submission is None:
        if root is None:
            parser.error("--submission PATH is required (a notebook or a folder holding one)")
        args.submission = root / "submission"  # Gradescope's: grade() reports a missing one in results.json
    else:
        _check_submission(parser, args.submission)
    if args.results is None:
        args.results = (
            root / "results" / "results.json"
            if root
            else Path("out") / (args.submission.stem or "submission") / "results.json"
        )
    if _under(args.results, GRADESCOPE) and not (root and _under(root, GRADESCOPE)):
        parser.error(f"--results {args.results}: refusing to write under {GRADESCOPE} outside Gradescope's layout")
    return args


def _check_submission(parser, path: Path) -> None:
    if not path.exists():
        parser.error(f"--submission {path}: no such file or folder")
    if path.is_dir():
        exported = [p.name for p in path.iterdir() if p.is_dir() and p.name.startswith("submission_")]
        if (path / "submission_metadata.yml").exists() or len(exported) > 1:
            parser.error(
                f"--submission {path} looks like a Gradescope export (submission_metadata.yml or several "
                f"submission_<id>/ folders), not one submission; grade a class with "
                f"`make batch EXPORT={path} OUT=folder`"
            )


def _under(path: Path, folder: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(folder)


def main(argv=None) -> None:
    code = run(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # results.json is written; skipping the interpreter's teardown saves about 0.1 s


def run(argv=None) -> int:
    """Grade as the command line says; the exit status."""
    args = parse(argv)
    if args.gradescope_root is None:  # a checkout: refused, before anything is graded, without the course's secret
        try:
            secret.secret()
        except secret.NoSecret as missing:
            print(f"run_autograder: {missing}", file=sys.stderr)
            return 2
    code, results = grade_job(job_of(args))
    if results is not None and not args.quiet:
        print_table(results, args.results)
    return code


def job_of(args: argparse.Namespace) -> Job:
    """The grading the parsed command line asks for."""
    return Job(
        args.submission,
        args.results,
        from_options(args),
        ta_dir=args.ta_files,
        hide=tuple(args.hide),
        writable=tuple(args.writable),
        log_output=not args.no_notebook_output,
    )


if __name__ == "__main__":
    main()
