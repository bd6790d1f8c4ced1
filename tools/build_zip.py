"""Build autograder.zip for Gradescope: setup.sh and an executable run_autograder at its root, the grader and its
test cases, the course's secret, and nothing else (no solution, no caches, no project test suite).

The secret (`.grader-secret`, what the grader's inputs derive from) is shipped as is: Gradescope's image and every
local regrade then give a notebook the same inputs. It is never made by accident: `make secret NEW=1` makes it (a
course's first zip), `make secret FROM=autograder.zip` takes the course's from the zip on Gradescope, and `make zip`
refuses without one.
"""

import argparse
import hashlib
import os
import secrets
import stat
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECRET = ".grader-secret"
TOP_FILES = ["setup.sh", "run_autograder", "requirements.txt", "constraints.txt", SECRET]
FOLDERS = ["grader", "assignments", "tests"]
MISSING = (  # grader/secret.py says the same (the tools import nothing of the grader)
    "no course secret (.grader-secret) in this checkout. Joining a course: `make secret FROM=autograder.zip` (the "
    "zip uploaded to Gradescope, which carries it). A new course's first autograder.zip only: `make secret NEW=1`."
)
LEFT_OUT = (
    "grader/batch.py",
    "grader/report/",
)  # TA tools, never used on Gradescope (grader/version.py skips them too)


class Refused(SystemExit):
    """No secret, or not one to use: its message says why and what to do (exit status 2 from the command line)."""


def fingerprint(value: bytes) -> str:
    """The secret's short name, as results.json's extra_data.secret shows it (grader/secret.py)."""
    return hashlib.sha256(b"a0 secret id\0" + value).hexdigest()[:8]


def course_secret(root: Path = ROOT) -> bytes | None:
    path = root / SECRET
    return (path.read_bytes() or None) if path.is_file() else None


def _write_secret(path: Path, value: bytes) -> None:
    """Written once, mode 600; an existing file is never replaced (O_EXCL)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(value)


def secret_from_zip(archive: Path) -> bytes:
    """The course's secret shipped in an autograder.zip (as `make zip` builds it: .grader-secret at its root)."""
    try:
        with zipfile.ZipFile(archive) as opened:
            info = opened.getinfo(SECRET)
            if not 0 < info.file_size <= 4096:
                raise Refused(f"secret: {archive}: its {SECRET} is empty or too large")
            return opened.read(info)
    except (OSError, zipfile.BadZipFile) as error:
        raise Refused(f"secret: {archive} cannot be read as a zip ({error})") from None
    except KeyError:
        raise Refused(
            f"secret: {archive} holds no {SECRET} at its root: use the autograder.zip uploaded to Gradescope "
            "(Configure Autograder shows it), built by `make zip`"
        ) from None


def secret(source: Path | None = None, new: bool = False, root: Path = ROOT) -> int:
    """`make secret`: report the course's secret, take it from the course's autograder.zip (`source`), or make a new
    one (`new`, a course's first zip only). Never replaces one that is there. Prints one line; the exit status."""
    path, found = root / SECRET, course_secret(root)
    if source is not None:
        theirs = secret_from_zip(source)
        if found is None:
            path.unlink(missing_ok=True)  # an empty file: nothing was ever derived from it
            _write_secret(path, theirs)
            print(f"secret: {path}: the course's, taken from {source} (fingerprint {fingerprint(theirs)})")
            return 0
        if found == theirs:
            print(f"secret: {path}: already the one in {source} (fingerprint {fingerprint(found)})")
            return 0
        print(
            f"secret: REFUSED: {path} (fingerprint {fingerprint(found)}) differs from the one in {source} "
            f"({fingerprint(theirs)}); if the zip is the course's (the one on Gradescope), move yours away and run "
            "this again: every notebook this checkout graded got other inputs",
            file=sys.stderr,
        )
        return 2
    if found is not None:
        print(f"secret: {path}: kept (fingerprint {fingerprint(found)}); delete it first to make a new one")
        return 0 if not new else 2
    if not new:
        print(f"secret: {MISSING}", file=sys.stderr)
        return 2
    path.unlink(missing_ok=True)
    _write_secret(path, secrets.token_bytes(32))
    print(
        f"secret: {path}: made a NEW course secret (fingerprint {fingerprint(course_secret(root) or b'')}); it ships "
        "in autograder.zip: upload that zip to Gradescope, and every other TA takes it with "
        "`make secret FROM=autograder.zip`"
    )
    return 0


def shipped():
    yield from TOP_FILES
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            name = str(path.relative_to(ROOT))
            if (
                path.is_file()
                and "__pycache__" not in path.parts
                and path.suffix != ".pyc"
                and not name.startswith(LEFT_OUT)
            ):
                yield name


def build(target: Path, secret_file: Path | None = None):
    """The zip, with the course's secret (or `secret_file`'s, for the project's tests); refused without one."""
    secret_file = secret_file or ROOT / SECRET
    if not (secret_file.is_file() and secret_file.stat().st_size):
        raise Refused(f"zip: {MISSING}")
    modes = {"setup.sh": 0o755, "run_autograder": 0o755, SECRET: 0o600}
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in shipped():
            source = secret_file if name == SECRET else ROOT / name
            info = zipfile.ZipInfo.from_file(source, name)
            info.external_attr = (stat.S_IFREG | modes.get(name, 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, source.read_bytes())
    return target


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(prog="build_zip.py", description=__doc__)
    parser.add_argument("target", nargs="?", type=Path, default=ROOT / "autograder.zip")
    parser.add_argument("--secret", action="store_true", help="only the course's secret (make secret)")
    parser.add_argument("--from", dest="source", type=Path, help="take the secret from the course's autograder.zip")
    parser.add_argument("--new", action="store_true", help="make a new secret (a course's first zip only)")
    parser.add_argument("--secret-file", type=Path, help="ship this file as the secret (the project's tests)")
    args = parser.parse_args(argv)
    try:
        if args.secret:
            return secret(args.source, args.new)
        out = build(args.target, args.secret_file)
    except Refused as refused:
        print(refused, file=sys.stderr)
        return 2
    print(f"{out} ({out.stat().st_size // 1024} KB): " + ", ".join(TOP_FILES + [f + "/" for f in FOLDERS]))
    if args.secret_file is None:
        value = course_secret() or b""
        print(f"the course's secret {ROOT / SECRET} (fingerprint {fingerprint(value)}) is inside: keep it")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
