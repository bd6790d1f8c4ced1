"""Regenerate constraints.txt (`make lock`): the exact version of every package that requirements.txt and
requirements-dev.txt pull in, resolved for this machine's Python and for Gradescope's Python 3.10, with a
`python_version` marker where the two differ. Standard library only.

    python3 tools/lock.py --py310 /path/to/python3.10 [--torch-index URL]
    python3 tools/lock.py --check --py310 /path/to/python3.10     (make lock-check; CI runs it)

The file carries a digest of the requirements and of its own pins (`stamp`): the test suite checks it offline, so a
requirement changed without `make lock`, or a pin edited by hand, fails `make test`. `--check` asks the package index
again whether every pin still installs on Python 3.10 (a release can be yanked after the lock was made).

Nothing is installed: pip resolves in a throwaway venv (`pip install --dry-run --report`). torch is resolved alone
(from a wheel on this machine if pip's find-links has one, else from the CPU-only index), and its own dependencies
are then resolved with the rest; so the CPU-only index is never asked about other packages, and the Python 3.10
resolution does not need a torch wheel for 3.10 on this machine.
"""

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = [ROOT / "requirements.txt", ROOT / "requirements-dev.txt"]


def requirement_lines():
    lines = [line.split("#")[0].strip() for path in REQUIREMENTS for line in path.read_text().splitlines()]
    return [line for line in lines if line]


def resolve(python: str, requirements: list, *pip_options: str) -> list:
    """What pip would install for these requirements with this interpreter: the report's `install` entries. pip's
    messages are shown only when it fails (this machine's pip configuration may warn about every package)."""
    with tempfile.TemporaryDirectory(prefix="a0-lock-") as tmp:
        subprocess.run([python, "-m", "venv", tmp], check=True)
        done = subprocess.run(
            [
                f"{tmp}/bin/python",
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-q",
                "--dry-run",
                "--ignore-installed",
                "--report",
                "-",
                *pip_options,
                *requirements,
            ],
            capture_output=True,
            text=True,
        )
    if done.returncode:
        sys.stderr.write(done.stderr[-5000:])
        raise subprocess.CalledProcessError(done.returncode, done.args)
    return json.loads(done.stdout)["install"]


STAMP = "# sha256 of requirements.txt, requirements-dev.txt and the pins below: "


def stamp(pins: list) -> str:
    """The digest line for these pins and today's requirement files."""
    digest = hashlib.sha256()
    for path in REQUIREMENTS:
        digest.update(path.read_bytes())
    digest.update("\n".join(pins).encode())
    return STAMP + digest.hexdigest()[:16]


def pins_of(constraints: Path) -> list:
    """Its pin lines: every line but the comments (the stamp among them) and blank ones."""
    return [line for line in constraints.read_text().splitlines() if line and not line.startswith("#")]


def stamp_problem(constraints: Path) -> str | None:
    """None if `constraints` is make lock's output for today's requirements, else what is wrong and the fix."""
    found = [line for line in constraints.read_text().splitlines() if line.startswith(STAMP)]
    if found != [stamp(pins_of(constraints))]:
        return (
            f"{constraints.name} is not what `make lock` made from today's requirements.txt and requirements-dev.txt "
            "(a requirement changed, or a pin was edited by hand): run `make lock`"
        )
    return None


def check(python310: str, constraints: Path) -> int:
    """0 if the stamp holds and every pin (torch aside: its 3.10 wheel is on the CPU-only index) installs on 3.10,
    pulling in nothing unpinned; else 1, with the reason on stderr. Asks the package index; nothing is installed."""
    problem = stamp_problem(constraints)
    if problem:
        print(f"lock-check: {problem}", file=sys.stderr)
        return 1
    pins = pins_of(constraints)
    with tempfile.TemporaryDirectory(prefix="a0-lock-") as tmp:
        files = []
        for name, lines in (("requirements-both.txt", requirement_lines()), (constraints.name, pins)):
            (Path(tmp) / name).write_text("\n".join(line for line in lines if not line.startswith("torch==")) + "\n")
            files += ["-r", str(Path(tmp) / name)]
        try:
            installed = resolve(python310, files)
        except subprocess.CalledProcessError:
            print("lock-check: the pins do not install on Python 3.10 (pip's reason above)", file=sys.stderr)
            return 1
    pinned = {normal(pin.split("==")[0]) for pin in pins}
    pulled = {normal(item["metadata"]["name"]) for item in installed}
    if pulled - pinned:
        print(
            f"lock-check: Python 3.10 would install unpinned {sorted(pulled - pinned)}: run `make lock`",
            file=sys.stderr,
        )
        return 1
    print(f"lock-check: {constraints.name} is current and its {len(pulled)} packages install on Python 3.10")
    return 0


def python_version(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    ).stdout.strip()


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--py310", required=True, help="a Python 3.10 interpreter (Gradescope's Ubuntu 22.04)")
    parser.add_argument("--torch-index", default="https://download.pytorch.org/whl/cpu")
    parser.add_argument("--out", type=Path, default=ROOT / "constraints.txt")
    parser.add_argument("--check", action="store_true", help="check --out against the index instead of writing it")
    args = parser.parse_args()
    if python_version(args.py310) != "3.10":
        parser.error(f"--py310 {args.py310} is Python {python_version(args.py310)}")
    if args.check:
        sys.exit(check(args.py310, args.out))

    lines = requirement_lines()
    torch_line = next(line for line in lines if line.startswith("torch=="))
    try:
        (torch,) = resolve(sys.executable, [torch_line], "--no-deps", "--no-index")
    except subprocess.CalledProcessError:
        (torch,) = resolve(sys.executable, [torch_line], "--no-deps", "--index-url", args.torch_index)
    torch_deps = [dep for dep in torch["metadata"].get("requires_dist", []) if "extra ==" not in dep]
    rest = [line for line in lines if line != torch_line] + torch_deps

    versions = {}  # python version -> {name: version}
    for python in (sys.executable, args.py310):
        installed = resolve(python, rest)
        versions[python_version(python)] = {
            normal(item["metadata"]["name"]): item["metadata"]["version"] for item in installed
        }
    here = python_version(sys.executable)
    mine, old = versions[here], versions["3.10"]
    out = [
        "# Generated by `make lock` (tools/lock.py) from requirements.txt and requirements-dev.txt; do not edit.",
        f"# Resolved for Python {here} and 3.10 (Gradescope); torch's 3.10 wheel is assumed to exist on the "
        "CPU-only index.",
    ]
    pins = [f"torch=={torch['metadata']['version']}"]
    for name in sorted(set(mine) | set(old)):
        if mine.get(name) == old.get(name):
            pins.append(f"{name}=={mine[name]}")
            continue
        if name in old:
            pins.append(f'{name}=={old[name]}; python_version < "3.11"')
        if name in mine:
            pins.append(f'{name}=={mine[name]}; python_version >= "3.11"')
    args.out.write_text("\n".join([*out, stamp(pins), *pins]) + "\n")
    print(f"{args.out}: {len(pins)} pins")


if __name__ == "__main__":
    main()
