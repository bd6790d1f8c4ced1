"""The course's secret (.grader-secret beside grader/, out of git, root-only on Gradescope): every grader input is
derived from it (scoring/inputs.py), and so is the grader's version (version.py). It is never made here: a grading
without it is refused (grader/__main__.py says how to get the course's), except where `A0_DEVELOPMENT_SECRET=1`
allows the development secret (`make run` on a fresh clone, the project's tests): a fixed value, so every such
grading says it used it and its version differs from the course's."""

import hashlib
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = os.path.join(ROOT, ".grader-secret")
DEVELOPMENT_ENV = "A0_DEVELOPMENT_SECRET"
_DEVELOPMENT = b"a0 development secret: no course grades with it"
MISSING = (
    "no course secret ({path}): every notebook's inputs derive from it, so grading without the course's would give "
    "other numbers than Gradescope. Get the course's: `make secret FROM=autograder.zip` (the zip uploaded to "
    "Gradescope), or, for a new course's first autograder.zip only, `make secret NEW=1`."
)


class NoSecret(Exception):
    """No `.grader-secret` and no permission to use the development secret."""


def course_secret() -> bytes | None:
    """The course's secret, or None when this checkout has none (no file, or an empty one)."""
    try:
        with open(SECRET, "rb") as f:
            return f.read() or None
    except FileNotFoundError:
        return None


def secret() -> bytes:
    found = course_secret()
    if found is not None:
        return found
    if os.environ.get(DEVELOPMENT_ENV) == "1":
        return _DEVELOPMENT
    raise NoSecret(MISSING.format(path=SECRET))


def fingerprint(value: bytes) -> str:
    """A short name of a secret, safe to show and to record in results.json (nothing of the secret can be derived)."""
    return "development" if value == _DEVELOPMENT else hashlib.sha256(b"a0 secret id\0" + value).hexdigest()[:8]


def secret_id() -> str:
    return fingerprint(secret())
