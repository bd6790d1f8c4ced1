"""The grader's version, one per assignment: a hash of everything that decides that assignment's scores: the engine's
code, the assignment's own files (the package holding its module, its unittest cases) and the course's secret, which
decides every input. Adding or changing another assignment leaves it as it was.

The TA tools (batch.py, one.py, report/) are left out: changing them does not change a grade."""

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

from .assignment import course_assignment, load
from .secret import secret

ROOT = Path(__file__).resolve().parents[1]
NOT_SCORING = ("grader/batch.py", "grader/report/", "grader/one.py")


def grader_version(assignment: str | None = None) -> str:
    """The version grading the assignment in module `assignment` (default: the course's)."""
    return _version(assignment or course_assignment())


@lru_cache(maxsize=8)
def _version(assignment: str) -> str:
    spec = importlib.util.find_spec(assignment)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"no module {assignment}")
    tests = load(assignment).tests  # None: the cases are made from the lines, in the assignment's package
    files = {*_files(ROOT / "grader"), *_files(Path(spec.origin).parent), *(_files(Path(tests)) if tests else ())}
    digest = hashlib.sha256()
    for name, path in sorted(files):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(hashlib.sha256(b"a0 secret\0" + secret()).digest())
    return digest.hexdigest()[:16]


def _files(folder: Path) -> list:
    """[(name, path)] of the .py and .json files under `folder` that decide a score; named from the checkout (or,
    outside it, from the folder's parent): the same files give the same version wherever they are."""
    folder = folder.resolve()
    base = ROOT if folder.is_relative_to(ROOT) else folder.parent
    found = []
    for path in folder.rglob("*"):
        name = path.relative_to(base).as_posix()
        if path.is_file() and path.suffix in (".py", ".json") and not name.startswith(NOT_SCORING):
            found.append((name, path))
    return found
