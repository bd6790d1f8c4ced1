"""Find the notebook to grade in a submission folder: a bounded walk that never follows links."""

import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from .. import settings
from ..markdown import inline_code
from .scan import code_fingerprint

SAVED_AS_TEXT = ".ipynb.txt"  # Safari's download of a notebook
CHECKPOINTS = ".ipynb_checkpoints"  # Jupyter's copy of the notebook as of its last save
MAX_DEPTH = 30  # folders below the submission folder
MAX_ENTRIES = 10_000  # files and folders looked at
MAX_FINGERPRINTS = 10  # notebooks read to compare with the handout


class SubmissionProblem(Exception):
    """The submission cannot be graded; the message tells the student what to fix."""


@dataclass(frozen=True)
class Sought:
    """What the child looks for in a submission, from its configuration (sandbox/launch.py)."""

    notebook: str | None = None  # Assignment.notebook: the file name the handout gives, graded first
    handout_code: str | None = None  # Assignment.handout_code
    max_bytes: int = field(default_factory=lambda: settings.declared_default("notebook_bytes"))

    @classmethod
    def of(cls, config: dict) -> "Sought":
        return cls(config.get("notebook"), config.get("handout_code"), config["notebook_bytes"])

    @property
    def stem(self) -> str:
        """The expected name without `.ipynb`, lower case ("" when the assignment names none)."""
        name = (self.notebook or "").lower()
        return name[: -len(".ipynb")] if name.endswith(".ipynb") else name

    @property
    def upload(self) -> str:
        """How messages name the file to upload."""
        return inline_code(self.notebook) if self.notebook else "the notebook file (`.ipynb`)"


@dataclass
class Located:
    path: Path
    reason: str
    notes: list = field(default_factory=list)


def _inside(path: Path, root: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
        return True
    except (ValueError, OSError, RuntimeError):
        return False


def _walk(root: Path, notes: list):
    """(notebooks, names of the other files, fallbacks): breadth first, sorted within a folder, links never followed,
    hidden folders and `__MACOSX` skipped (hidden files are listed, never graded), at most MAX_DEPTH folders deep
    and MAX_ENTRIES entries. Fallbacks, graded only where no notebook is found: notebooks saved as `.ipynb.txt`,
    then those in Jupyter's `.ipynb_checkpoints` folders."""
    notebooks, others, seen, as_text, checkpoints = [], list[str](), 0, [], []
    queue = deque([(root, 0, False)])
    cut = False
    while queue:
        folder, depth, in_checkpoints = queue.popleft()
        try:
            with os.scandir(folder) as listing:
                entries = []
                for entry in listing:
                    seen += 1
                    if seen > MAX_ENTRIES:
                        cut = True
                        break
                    entries.append(entry)
        except OSError:
            continue
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name == "__MACOSX":
                continue
            path = Path(entry.path)
            try:
                link = entry.is_symlink()
                is_dir = not link and entry.is_dir(follow_symlinks=False)
                is_file = not link and entry.is_file(follow_symlinks=False)
            except OSError:
                continue
            rel = path.relative_to(root)
            hidden = entry.name.startswith(".")  # .ipynb_checkpoints, ._hw.ipynb (macOS): listed, never graded
            if is_file and in_checkpoints:
                if not hidden and entry.name.lower().endswith(".ipynb"):
                    checkpoints.append(path)
            elif is_dir and entry.name == CHECKPOINTS and depth + 1 <= MAX_DEPTH:
                queue.append((path, depth + 1, True))
            elif is_file and not hidden and entry.name.lower().endswith(SAVED_AS_TEXT):
                as_text.append(path)
            elif is_file and (hidden or not entry.name.lower().endswith(".ipynb")):
                if len(others) < 1000:
                    others.append(entry.name)
            elif hidden:
                continue
            elif link and entry.name.lower().endswith(".ipynb"):
                where = "a file outside your submission" if not _inside(path, root) else "another file"
                notes.append(f"{inline_code(rel)} is a link to {where}; it was ignored.")
            elif is_dir:
                if depth + 1 > MAX_DEPTH:
                    cut = True
                else:
                    queue.append((path, depth + 1, in_checkpoints))
            elif is_file:
                notebooks.append(path)
        if cut and seen > MAX_ENTRIES:
            break
    if cut:
        notes.append(
            f"Your submission has more than {MAX_ENTRIES:,} files and folders or folders nested more than "
            f"{MAX_DEPTH} deep; only the first were searched for the notebook."
        )
    return notebooks, others, as_text + checkpoints


def locate(submission: Path, sought: Sought | None = None) -> Located:
    """Pick the notebook: the expected name (`sought.notebook`) first, then the only one, then the shallowest,
    alphabetically.

    With `sought.handout_code`: when the notebook picked has exactly the handout's code cells and another notebook
    has different code (Colab's "Copy of hw.ipynb"), that one is graded."""
    sought = sought or Sought()
    submission = Path(submission)
    if submission.is_file():
        as_text = submission.name.lower().endswith(SAVED_AS_TEXT)
        if submission.suffix.lower() != ".ipynb" and not as_text:
            raise SubmissionProblem(_not_a_notebook(submission.name, sought))
        reason = f"{inline_code(submission.name)} was graded: it is the file that was given."
        return Located(submission, reason, [_saved_as_text(submission.name)] if as_text else [])
    if not submission.is_dir():
        raise SubmissionProblem(f"No submission was found at {inline_code(submission)}.")
    notes: list = []
    found, other_files, fallbacks = _walk(submission, notes)
    if not found and fallbacks:
        return _fallback(submission, fallbacks, notes, sought)
    if not found:
        _nothing_to_grade(notes, other_files, sought)
    expected = [p for p in found if sought.notebook and p.name.lower() == sought.notebook.lower()]
    pool = sorted(expected or found, key=lambda p: _order(p, submission))
    chosen = pool[0]
    if len(found) == 1:
        reason = "it is the only notebook in your submission"
    elif expected:
        reason = f"it has the expected name {sought.upload} ({len(found)} notebooks were found)"
    else:
        named = f"is named {sought.upload}" if sought.notebook else "has the expected name"
        reason = (
            f"none of the {len(found)} notebooks {named}, so the one nearest the top of the "
            "submission, first in alphabetical order, was taken"
        )
    if sought.handout_code and len(found) > 1:
        worked = _with_work(chosen, found, submission, sought)
        if worked is not None:
            reason = (
                f"{inline_code(chosen.relative_to(submission))} has exactly the code cells of the handout (no work in "
                f"it), and {inline_code(worked.relative_to(submission))} has your work"
            )
            chosen = worked
    if len(found) > 1:
        others = ", ".join(f"{inline_code(p.relative_to(submission))}" for p in found if p != chosen)
        notes.append(f"Other notebooks not graded: {others}.")
    return Located(chosen, f"{inline_code(chosen.relative_to(submission))} was graded because {reason}.", notes)


def _order(path: Path, root: Path):
    rel = path.relative_to(root)
    return len(rel.parts), str(rel).lower()


def _with_work(chosen: Path, found: list, root: Path, sought: Sought) -> Path | None:
    """Another notebook whose code differs from the handout's, when `chosen` is the untouched handout."""
    if code_fingerprint(chosen, sought.max_bytes) != sought.handout_code:
        return None
    # Notebooks named like the assignment first ("Copy of hw.ipynb", "hw (1).ipynb"), then by depth and name.
    rest = sorted(
        (p for p in found if p != chosen), key=lambda p: (sought.stem not in p.name.lower(), *_order(p, root))
    )
    for path in rest[:MAX_FINGERPRINTS]:
        fingerprint = code_fingerprint(path, sought.max_bytes)
        if fingerprint and fingerprint != sought.handout_code:
            return path
    return None


def _fallback(root: Path, fallbacks: list, notes: list, sought: Sought) -> Located:
    """No `.ipynb` file: a notebook Safari saved as `.ipynb.txt`, else Jupyter's checkpoint copy, is graded."""
    chosen = min(
        fallbacks,
        key=lambda p: (
            CHECKPOINTS in p.relative_to(root).parts,
            not sought.stem or p.name.lower() not in (f"{sought.stem}.ipynb.txt", f"{sought.stem}-checkpoint.ipynb"),
        ),
    )
    rel = inline_code(chosen.relative_to(root))
    if chosen.name.lower().endswith(SAVED_AS_TEXT):
        reason = (
            f"{rel} was graded because your submission has no `.ipynb` file and this file's name ends in `.ipynb.txt`."
        )
        notes.append(_saved_as_text(str(chosen.relative_to(root))))
    else:
        reason = (
            f"{rel} was graded because it is the only notebook in your submission: it is the copy Jupyter keeps in "
            f"`{CHECKPOINTS}/`, not your notebook itself."
        )
        notes.append(
            f"Your submission holds only Jupyter's checkpoint copy of your notebook ({rel}): it is your notebook as "
            f"of its last save or checkpoint and may miss later work. Next time upload {sought.upload} itself."
        )
    if len(fallbacks) > 1:
        others = ", ".join(f"{inline_code(p.relative_to(root))}" for p in fallbacks if p != chosen)
        notes.append(f"Other notebooks not graded: {others}.")
    return Located(chosen, reason, notes)


def _saved_as_text(name: str) -> str:
    return (
        f"{inline_code(name)} is a notebook with `.txt` added to its name (Safari adds it when it downloads a "
        "notebook); it was graded as a notebook. Next time, remove the `.txt` before uploading."
    )


def _nothing_to_grade(notes: list, other_files: list, sought: Sought) -> NoReturn:
    if notes:  # only links, or a submission too large to search
        itself = f"the notebook file itself ({sought.upload})" if sought.notebook else "the notebook file itself"
        raise SubmissionProblem(" ".join(notes) + f" Please upload {itself}.")
    others = sorted(other_files, key=str.lower)[:5]
    if any(n.lower().endswith(".py") for n in other_files):
        raise SubmissionProblem(
            "Your submission has a `.py` file but no notebook. Please upload the notebook itself "
            f"({_download(sought)}), not an exported script."
        )
    listed = ", ".join(f"{inline_code(n)}" for n in others) or "no files at all"
    raise SubmissionProblem(
        f"No Jupyter notebook (`.ipynb`) was found in your submission (it has {listed}). Please upload {sought.upload}."
    )


def _not_a_notebook(name: str, sought: Sought) -> str:
    if name.lower().endswith(".py"):
        return (
            f"{inline_code(name)} is a Python script, not a notebook. Please upload the notebook itself "
            f"({_download(sought)})."
        )
    return f"{inline_code(name)} is not a Jupyter notebook (`.ipynb`). Please upload {sought.upload}."


def _download(sought: Sought) -> str:
    return (f"{sought.upload}, " if sought.notebook else "") + "from File > Download in Jupyter or Colab"
