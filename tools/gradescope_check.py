"""`make gradescope-check`: rehearse Gradescope's "Test Autograder" on this machine (standard library only).

Builds autograder.zip, unpacks it into a temporary /autograder layout, runs its setup.sh there as Gradescope's
image build does (timed), then grades solution/A0.ipynb and the handout source/A0.ipynb with run_autograder and no
arguments, printing both tables. In Docker (image A0_DOCKER_IMAGE, default Gradescope's Ubuntu 22.04 base) when
`docker info` works, else in a temporary folder on this machine (as root: setup.sh creates the sandbox user).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_zip  # noqa: E402

CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # like Gradescope's image
NOTEBOOKS = {"solution": ROOT / "solution" / "A0.ipynb", "handout": ROOT / "source" / "A0.ipynb"}
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"  # setup.sh's default
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


def torch_requirement() -> str:
    return next(
        line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("torch==")
    )


def find_links(python: str = sys.executable) -> list:
    """The folders pip looks in for wheels on this machine: its find-links (configuration files and PIP_FIND_LINKS,
    as `pip config list` shows them), or just PIP_FIND_LINKS without a pip."""
    try:
        listed = subprocess.run(
            [python, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        listed = ""
    values = re.findall(r"^\S*\.find-links='(.*)'$", listed, re.MULTILINE) or [os.environ.get("PIP_FIND_LINKS", "")]
    folders = [value.removeprefix("file://") for text in values for value in text.split()]
    return list(dict.fromkeys(folder for folder in folders if os.path.isdir(folder)))


def local_wheel(requirement: str, folders: list, python_tag: str) -> Path | None:
    """A wheel of `requirement` (torch==X, or a local version of it: +cpu) for `python_tag` (cp311) in `folders`."""
    name, version = requirement.split("==")
    pattern = re.compile(rf"{re.escape(name)}-{re.escape(version)}(\+[\w.]+)?-{python_tag}-{python_tag}-\w+\.whl")
    for folder in folders:
        for wheel in sorted(Path(folder).glob(f"{name}-*.whl")):
            if pattern.fullmatch(wheel.name):
                return wheel
    return None


def index_reachable(index: str, seconds: float = 10) -> str:
    """'' if the index answers, else why not."""
    try:
        with urllib.request.urlopen(index.rstrip("/") + "/torch/", timeout=seconds):
            return ""
    except Exception as error:  # noqa: BLE001  -- any failure means the same: not from there
        return str(getattr(error, "reason", error))


def torch_source(requirement: str, index: str, folders: list, python_tag: str) -> tuple:
    """(environment for setup.sh, what it says) for installing torch: a local wheel (no index, so no retries),
    else the index if it answers; else (None, the one line saying what is needed)."""
    wheel = local_wheel(requirement, folders, python_tag)
    if wheel is not None:
        return {"TORCH_INDEX": "", "PIP_FIND_LINKS": " ".join(folders)}, f"{requirement} from {wheel}"
    if not index:  # TORCH_INDEX= : pip's own index, as the TA asked
        return {"TORCH_INDEX": ""}, f"{requirement} from pip's own index (TORCH_INDEX is empty)"
    why = index_reachable(index)
    if not why:
        return {"TORCH_INDEX": index}, f"{requirement} from {index}"
    looked = ", ".join(folders) or "none configured"
    return None, (
        f"gradescope-check: needs {requirement} ({python_tag}): {index} is unreachable ({why}) and no "
        f"wheel is in pip's find-links ({looked}): put the wheel in a folder and run `PIP_FIND_LINKS=that-folder "
        "make gradescope-check`, or name a reachable index with TORCH_INDEX=url"
    )


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


def setup_python() -> str:
    """The interpreter setup.sh builds its venv with."""
    return "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else shutil.which("python3", path=CLEAN_PATH)


def make_root() -> tuple:
    """(a temporary folder for the /autograder layout, reachable by the sandbox user; whether it is a tmpfs of its
    own). A tmpfs where root can mount one: torch's gigabyte never reaches the disk, and removing it is one umount.
    On a disk mounted with `discard` (SSDs, cloud disks) deleting that gigabyte took minutes."""
    root = Path(tempfile.mkdtemp(prefix="a0-gscheck-", dir="/tmp"))
    mount = ["mount", "-t", "tmpfs", "-o", "mode=700,nosuid,nodev", "a0-gscheck", str(root)]
    return root, subprocess.run(mount, capture_output=True, timeout=60).returncode == 0


def remove_root(root: Path, tmpfs: bool) -> None:
    started = time.monotonic()
    if tmpfs:  # lazily if something still holds it open: it goes when that ends
        if subprocess.run(["umount", str(root)], capture_output=True, timeout=120).returncode != 0:
            subprocess.run(["umount", "--lazy", str(root)], capture_output=True, timeout=120)
        try:
            root.rmdir()
        except OSError:
            pass
    subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False, timeout=1800)
    print(f"gradescope-check: removed {root} in {time.monotonic() - started:.1f} s", flush=True)


def in_folder(zip_path: Path, torch_env: dict) -> int:
    root, tmpfs = make_root()
    try:
        where = "a tmpfs of its own" if tmpfs else "a folder"
        print(f"gradescope-check: no usable Docker; a temporary /autograder layout in {root} ({where})", flush=True)
        subprocess.run(["unzip", "-q", str(zip_path), "-d", str(root / "source")], check=True, timeout=120)
        env = {"PATH": CLEAN_PATH, "AUTOGRADER_ROOT": str(root), "HOME": str(root), "PIP_NO_CACHE_DIR": "1"}
        env |= {k: v for k, v in os.environ.items() if k.startswith("PIP_")}  # mirrors, certificates
        env |= torch_env  # where torch comes from: a local wheel (no index at all) or TORCH_INDEX
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
        remove_root(root, tmpfs)


def _stop(signum, frame):
    raise SystemExit(128 + signum)  # the temporary folder is removed on the way out


def venv_megabytes(venv: Path) -> float:
    """What the venv adds to the image: its files' sizes (links not followed)."""
    total = 0
    for folder, _, files in os.walk(venv):
        total += sum(os.lstat(os.path.join(folder, name)).st_size for name in files)
    return total / 2**20


def main() -> int:
    docker = docker_usable()
    if not docker:
        if os.geteuid() != 0:
            print(
                "gradescope-check: without Docker this needs root (setup.sh creates the sandbox user)", file=sys.stderr
            )
            return 2
        python = setup_python()
        tag = subprocess.run(
            [python, "-c", "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
        torch_env, said = torch_source(
            torch_requirement(), os.environ.get("TORCH_INDEX", TORCH_INDEX), find_links(python), tag
        )
        if torch_env is None:
            print(said, file=sys.stderr)
            return 2
        print(f"gradescope-check: {said}", flush=True)
    zip_path = build_zip.build(ROOT / "autograder.zip")
    print(f"built {zip_path} (with the course's secret {ROOT / build_zip.SECRET})", flush=True)
    return in_docker(zip_path) if docker else in_folder(zip_path, torch_env)


if __name__ == "__main__":
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    sys.exit(main())
