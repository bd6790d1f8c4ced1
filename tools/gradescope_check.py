"""`make gradescope-check`: rehearse Gradescope's "Test Autograder" on this machine (standard library only).

Builds autograder.zip, unpacks it into a temporary /autograder layout, runs its setup.sh there as Gradescope's
image build does (timed), then grades solution/A0.ipynb and the handout source/A0.ipynb with run_autograder and no
arguments, printing both tables. In Docker (image A0_DOCKER_IMAGE, default Gradescope's Ubuntu 22.04 base) when
`docker info` works, else in a temporary folder on this machine (as root: setup.sh creates the sandbox user).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_zip  # noqa: E402

CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # like Gradescope's image
NOTEBOOKS = {"solution": ROOT / "solution" / "A0.ipynb", "handout": ROOT / "source" / "A0.ipynb"}
IMAGE = os.environ.get("A0_DOCKER_IMAGE", "gradescope/autograder-base:ubuntu-22.04")
IN_DOCKER = """set -e
mkdir -p /autograder/source /autograder/results && cd /autograder/source
python3 -m zipfile -e /check/autograder.zip . && chmod 755 setup.sh run_autograder   # zipfile drops modes
start=$(date +%s); bash /autograder/source/setup.sh; echo "image build (setup.sh): $(( $(date +%s) - start )) s"
echo "image size (the venv setup.sh built): $(du -sm /autograder/venv | cut -f1) MB"
cp /autograder/source/run_autograder /autograder/run_autograder
for name in solution handout; do
  rm -rf /autograder/submission && mkdir -p /autograder/submission
  cp /check/$name.ipynb /autograder/submission/A0.ipynb
  echo "== $name"; start=$(date +%s); /autograder/run_autograder; echo "graded in $(( $(date +%s) - start )) s"
done
"""


def docker_usable() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def in_docker(zip_path: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="a0-gscheck-") as shared:
        shutil.copy(zip_path, Path(shared) / "autograder.zip")
        for name, path in NOTEBOOKS.items():
            shutil.copy(path, Path(shared) / f"{name}.ipynb")
        print(f"gradescope-check: in Docker ({IMAGE})", flush=True)
        command = ["docker", "run", "--rm", "--memory", "768m", "--cpus", "0.5", "-v", f"{shared}:/check:ro"]
        return subprocess.run([*command, IMAGE, "bash", "-c", IN_DOCKER], check=False).returncode


def in_folder(zip_path: Path) -> int:
    if os.geteuid() != 0:
        print("gradescope-check: without Docker this needs root (setup.sh creates the sandbox user)", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="a0-gscheck-", dir="/tmp"))  # reachable by the sandbox user
    try:
        print(f"gradescope-check: no usable Docker; a temporary /autograder layout in {root}", flush=True)
        subprocess.run(["unzip", "-q", str(zip_path), "-d", str(root / "source")], check=True, timeout=120)
        env = {"PATH": CLEAN_PATH, "AUTOGRADER_ROOT": str(root), "HOME": str(root)}
        env |= {k: v for k, v in os.environ.items() if k.startswith("PIP_") or k == "TORCH_INDEX"}  # wheels, mirrors
        user = {k: v for k, v in os.environ.items() if k == "A0_SANDBOX_USER"}  # a shared machine's own sandbox user
        env |= user
        started = time.monotonic()
        setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, check=False)
        build = time.monotonic() - started
        print(f"image build (setup.sh): {build:.0f} s", flush=True)
        if setup.returncode != 0:
            return setup.returncode
        size = venv_megabytes(root / "venv")
        print(f"image size (the venv setup.sh built): {size:.0f} MB", flush=True)
        shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")  # as Gradescope does
        failed = 0
        for name, notebook in NOTEBOOKS.items():
            shutil.rmtree(root / "submission", ignore_errors=True)
            (root / "submission").mkdir()
            shutil.copy(notebook, root / "submission" / "A0.ipynb")
            print(f"== {name} ({notebook.relative_to(ROOT)})", flush=True)
            started = time.monotonic()
            graded = subprocess.run(
                [str(root / "run_autograder")],
                cwd=root,
                env={"PATH": CLEAN_PATH, **user},
                capture_output=True,
                text=True,
            )
            log = ROOT / "out" / "gradescope-check" / f"{name}.log"  # the grader's log, as Gradescope's stdout
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(graded.stdout + graded.stderr)
            table = graded.stdout[graded.stdout.rfind("\nnotebook: ") + 1 :] if "\nnotebook: " in graded.stdout else ""
            print(table or graded.stdout[-3000:] + graded.stderr[-3000:], end="")
            print(f"graded in {time.monotonic() - started:.1f} s (the grader's whole log: {log})", flush=True)
            failed |= graded.returncode != 0 or not (root / "results" / "results.json").is_file()
        print(
            f"image build (setup.sh) took {build:.0f} s, its venv is {size:.0f} MB; Gradescope's build takes minutes "
            "too (it downloads torch)"
        )
        return 1 if failed else 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


def venv_megabytes(venv: Path) -> float:
    """What the venv adds to the image: its files' sizes (links not followed)."""
    total = 0
    for folder, _, files in os.walk(venv):
        total += sum(os.lstat(os.path.join(folder, name)).st_size for name in files)
    return total / 2**20


def main() -> int:
    zip_path = build_zip.build(ROOT / "autograder.zip")
    print(f"built {zip_path} (with the course's secret {ROOT / build_zip.SECRET})", flush=True)
    return in_docker(zip_path) if docker_usable() else in_folder(zip_path)


if __name__ == "__main__":
    sys.exit(main())
