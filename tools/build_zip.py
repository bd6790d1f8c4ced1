"""Build autograder.zip for Gradescope: setup.sh and an executable run_autograder at its root, the grader and its
test cases, the course's secret, and nothing else (no solution, no caches, no project test suite).

The secret (`.grader-secret`, what the grader's inputs derive from) is made here once if missing (`make secret`
makes only it) and shipped as is: Gradescope's image and every local regrade then give a notebook the same inputs.
"""

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
LEFT_OUT = (
    "grader/batch.py",
    "grader/report/",
)  # TA tools, never used on Gradescope (grader/version.py skips them too)


def ensure_secret(root: Path = ROOT) -> Path:
    """The course's secret: kept if there, else made (32 random bytes, mode 600; .gitignore keeps it out of git)."""
    path = root / SECRET
    if not (path.is_file() and path.stat().st_size > 0):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # an empty one: nothing was ever derived from it
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path


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


def build(target: Path):
    ensure_secret()
    modes = {"setup.sh": 0o755, "run_autograder": 0o755, SECRET: 0o600}
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in shipped():
            info = zipfile.ZipInfo.from_file(ROOT / name, name)
            info.external_attr = (stat.S_IFREG | modes.get(name, 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (ROOT / name).read_bytes())
    return target


if __name__ == "__main__":
    if sys.argv[1:] == ["--secret"]:
        existed = (ROOT / SECRET).is_file() and (ROOT / SECRET).stat().st_size > 0
        print(f"{ensure_secret()}: {'kept (delete it first to make a new one)' if existed else 'made'}")
        sys.exit(0)
    out = build(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "autograder.zip"))
    print(f"{out} ({out.stat().st_size // 1024} KB): " + ", ".join(TOP_FILES + [f + "/" for f in FOLDERS]))
    print(f"the course's secret {ROOT / SECRET} is inside: keep it (a new one gives every notebook new inputs)")
