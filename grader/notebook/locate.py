"""Find the notebook to grade in a submission folder."""
import os
from dataclasses import dataclass, field
from pathlib import Path

EXPECTED_NAME = "a0.ipynb"


class SubmissionProblem(Exception):
    """The submission cannot be graded; the message tells the student what to fix."""


@dataclass
class Located:
    path: Path
    reason: str
    notes: list = field(default_factory=list)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _candidates(root: Path, notes: list):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not name.lower().endswith(".ipynb") or name.startswith("."):
                continue
            if path.is_symlink() and not _inside(path, root):
                notes.append(f"`{path.relative_to(root)}` is a link to a file outside your submission; it was ignored.")
                continue
            if path.is_file():
                yield path


def locate(submission: Path, handout_code: str | None = None) -> Located:
    """Pick the notebook: the expected name first, then the only one, then the shallowest, alphabetically."""
    submission = Path(submission)
    if submission.is_file():
        if submission.suffix.lower() != ".ipynb":
            raise SubmissionProblem(_not_a_notebook(submission.name))
        return Located(submission, f"`{submission.name}` was graded: it is the file that was given.")
    if not submission.is_dir():
        raise SubmissionProblem(f"No submission was found at `{submission}`.")
    notes: list = []
    found = list(_candidates(submission, notes))
    if not found and notes:   # only links to files outside the submission
        raise SubmissionProblem(" ".join(notes) + " Please upload the notebook file itself (`A0.ipynb`).")
    if not found:
        others = sorted(p.name for p in submission.rglob("*") if p.is_file() and "__MACOSX" not in p.parts)[:5]
        if any(n.lower().endswith(".py") for n in others):
            raise SubmissionProblem(
                "Your submission has a `.py` file but no notebook. Please upload the notebook itself "
                "(`A0.ipynb`, from File > Download in Jupyter or Colab), not an exported script.")
        listed = ", ".join(f"`{n}`" for n in others) or "no files at all"
        raise SubmissionProblem(f"No Jupyter notebook (`.ipynb`) was found in your submission (it has {listed}). "
                                "Please upload `A0.ipynb`.")
    expected = [p for p in found if p.name.lower() == EXPECTED_NAME]
    pool = sorted(expected or found,
                  key=lambda p: (len(p.relative_to(submission).parts), str(p.relative_to(submission)).lower()))
    chosen = pool[0]
    rel = chosen.relative_to(submission)
    if len(found) == 1:
        reason = "it is the only notebook in your submission"
    elif expected:
        reason = f"it has the expected name `A0.ipynb` ({len(found)} notebooks were found)"
    else:
        reason = (f"none of the {len(found)} notebooks is named `A0.ipynb`, so the one nearest the top of the "
                  "submission, first in alphabetical order, was taken")
    if len(found) > 1:
        others = ", ".join(f"`{p.relative_to(submission)}`" for p in found if p != chosen)
        notes.append(f"Other notebooks not graded: {others}.")
    return Located(chosen, f"`{rel}` was graded because {reason}.", notes)


def _not_a_notebook(name: str) -> str:
    if name.lower().endswith(".py"):
        return (f"`{name}` is a Python script, not a notebook. Please upload the notebook itself "
                "(`A0.ipynb`, from File > Download in Jupyter or Colab).")
    return f"`{name}` is not a Jupyter notebook (`.ipynb`). Please upload `A0.ipynb`."
