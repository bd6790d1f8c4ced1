"""Build autograder.zip for Gradescope: setup.sh and an executable run_autograder at its root, the grader and its
test cases, and nothing else (no solution, no caches, no project test suite)."""

import stat
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP_FILES = ["setup.sh", "run_autograder", "requirements.txt", "constraints.txt"]
FOLDERS = ["grader", "tests"]
LEFT_OUT = (
    "grader/batch.py",
    "grader/report/",
)  # TA tools, never used on Gradescope (grader/version.py skips them too)


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
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in shipped():
            info = zipfile.ZipInfo.from_file(ROOT / name, name)
            mode = 0o755 if name in ("setup.sh", "run_autograder") else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (ROOT / name).read_bytes())
    return target


if __name__ == "__main__":
    out = build(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "autograder.zip"))
    print(f"{out} ({out.stat().st_size // 1024} KB): " + ", ".join(TOP_FILES + [f + "/" for f in FOLDERS]))
