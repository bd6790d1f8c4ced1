"""`make grade NB=path`: grade one notebook into out/<its name>-<digest of its path>/ (two students' notebooks of the
same name never share a folder) with results.json, notebook.html and feedback.html, and print the summary table."""

import hashlib
import subprocess
import sys
from pathlib import Path

from . import secret
from .batch import RUN_AUTOGRADER, row, valid_results
from .report import pages


def folder_for(notebook: Path, out: Path) -> Path:
    digest = hashlib.sha256(str(notebook.resolve()).encode()).hexdigest()[:8]
    return out / f"{notebook.stem or 'submission'}-{digest}"


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print("usage: python -m grader.one NOTEBOOK [OUT]", file=sys.stderr)
        return 2
    notebook, out = Path(args[0]), Path(args[1] if len(args) > 1 else "out")
    try:
        secret.secret()
    except secret.NoSecret as missing:  # refused before anything is made: no folder, no grading
        print(f"make grade: {missing}", file=sys.stderr)
        return 2
    folder = folder_for(notebook, out)
    folder.mkdir(parents=True, exist_ok=True)
    command = [str(RUN_AUTOGRADER), "--submission", str(notebook), "--results", str(folder / "results.json")]
    done = subprocess.run([*command, "--ta-files", str(folder), "--no-notebook-output"], check=False)
    results = valid_results(folder / "results.json")
    if done.returncode != 0 or results is None:
        return done.returncode or 1
    pages.write_feedback(folder, row(folder.name, {}, results), results)
    print(f"feedback: {folder / 'feedback.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
