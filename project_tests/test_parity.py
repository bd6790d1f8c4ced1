"""Gradescope parity: the built zip, unpacked and set up like /autograder, grades with no arguments."""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import jsonschema
import nbformat
import pytest
from conftest import FULL_MARKS, ROOT, SCHEMA, grade, grader_copy, output_of, sandbox_user, save, solution

from grader.child.confine import landlock_abi
from grader.secret import fingerprint

CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # like Gradescope's image


def build_zip(target: Path) -> Path:
    """autograder.zip with a throwaway course secret (secret_of(target)): the checkout's own is never needed."""
    secret = secret_of(target)
    if not secret.exists():
        secret.write_bytes(os.urandom(32))
        os.chmod(secret, 0o600)
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_zip.py"), str(target), "--secret-file", str(secret)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return target


def secret_of(target: Path) -> Path:
    return target.parent / "course-secret"


def test_zip_holds_setup_and_an_executable_run_autograder_and_nothing_private(tmp_path):
    with zipfile.ZipFile(build_zip(tmp_path / "autograder.zip")) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    assert {"setup.sh", "run_autograder", "requirements.txt"} <= set(infos)
    assert (infos["run_autograder"].external_attr >> 16) & stat.S_IXUSR
    assert any(name.startswith("grader/") for name in infos) and any(name.startswith("tests/") for name in infos)
    leaked = [
        n
        for n in infos
        if n.startswith(("solution/", "project_tests/"))
        or "__pycache__" in n
        or n.endswith(".pyc")
        or n == "grader/batch.py"
        or n.startswith("grader/report/")
    ]
    assert leaked == []


@pytest.fixture
def autograder_root():
    """A fresh folder laid out like /autograder. Not pytest's tmp_path: its parents are closed to other users,
    and the sandbox user must reach root/venv like it reaches /autograder/venv."""
    root = Path(tempfile.mkdtemp(prefix="a0-parity-", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def prepare(root: Path, tmp_path: Path, torch_hidden_from_others: bool = False) -> Path:
    """The built zip unpacked in root/source, and root/venv ready for setup.sh.

    Installing torch again would take minutes. Instead root/venv is a real, empty venv whose site-packages holds a
    .pth line pointing at the project venv's site-packages: setup.sh keeps an existing venv, and its `pip install
    -r requirements.txt` still really runs and checks every pinned package, finding each one already satisfied
    (TORCH_INDEX= so it does not contact the PyTorch index). A copy of the project venv would cost gigabytes; a
    symlink farm would break the venv's own paths. The new venv has no pip of its own: the project venv's pip,
    reached through the .pth file, installs into root/venv like a pip of its own would.
    `torch_hidden_from_others`: the .pth line goes through a folder of mode 700, so root imports every package and
    the sandbox user none (torch included)."""
    zip_path = build_zip(tmp_path / "autograder.zip")
    unzipped = subprocess.run(["unzip", "-q", str(zip_path), "-d", str(root / "source")], timeout=60)
    assert unzipped.returncode == 0
    project_python = ROOT / ".venv" / "bin" / "python"
    subprocess.run([str(project_python), "-m", "venv", "--without-pip", str(root / "venv")], check=True, timeout=60)
    project_site = subprocess.run(
        [str(project_python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    venv_site = subprocess.run(
        [str(root / "venv" / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    project_site = os.path.realpath(project_site)  # .venv may be a link out of a closed folder
    if torch_hidden_from_others:
        closed = root / "closed"
        closed.mkdir(mode=0o700)
        (closed / "site").symlink_to(project_site)
        project_site = str(closed / "site")
    (Path(venv_site) / "project_venv.pth").write_text(project_site + "\n")
    return root


def run_setup(root: Path, wrap=list, user: str = None):
    env = {
        **os.environ,
        "PATH": CLEAN_PATH,
        "AUTOGRADER_ROOT": str(root),
        "TORCH_INDEX": "",
        "A0_SANDBOX_USER": user or sandbox_user() + "-setup",
    }  # its own check grades a notebook
    return subprocess.run(
        wrap(["bash", str(root / "source" / "setup.sh")]), env=env, capture_output=True, text=True, timeout=600
    )


def grade_in_layout(root: Path, nb, wrap=list):
    """Like Gradescope: run_autograder copied to root, the submission in root/submission, no arguments."""
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    shutil.rmtree(root / "submission", ignore_errors=True)
    save(nb, root / "submission")
    env = {"PATH": CLEAN_PATH, "A0_SANDBOX_USER": sandbox_user() + "-parity"}  # apart from concurrent gradings
    started = time.monotonic()
    graded = subprocess.run(
        wrap([str(root / "run_autograder")]), cwd=root, env=env, capture_output=True, text=True, timeout=900
    )
    seconds = time.monotonic() - started
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert f"child runs as user `{env['A0_SANDBOX_USER']}`" in graded.stdout
    return results, graded.stdout, seconds


def test_setup_refuses_a_zip_without_the_course_secret(tmp_path, autograder_root):
    root = prepare(autograder_root, tmp_path)
    (root / "source" / ".grader-secret").unlink()
    setup = run_setup(root)
    assert setup.returncode != 0 and "setup.sh: FAILED: no .grader-secret in the zip" in setup.stderr


def test_zip_carries_the_course_secret_made_once(tmp_path):
    with (
        zipfile.ZipFile(build_zip(tmp_path / "one.zip")) as first,
        zipfile.ZipFile(build_zip(tmp_path / "two.zip")) as second,
    ):
        assert first.read(".grader-secret") == second.read(".grader-secret") == secret_of(tmp_path / "a").read_bytes()
        assert (first.getinfo(".grader-secret").external_attr >> 16) & 0o077 == 0
    ignored = subprocess.run(["git", "check-ignore", "-q", ".grader-secret"], cwd=ROOT, timeout=60)
    assert ignored.returncode == 0  # kept out of git


@pytest.mark.slow(27)
def test_setup_fails_loudly_when_the_sandbox_user_cannot_import_torch(tmp_path, autograder_root):
    root = prepare(autograder_root, tmp_path, torch_hidden_from_others=True)
    setup = run_setup(root)
    assert setup.returncode != 0, setup.stdout + setup.stderr
    assert "setup.sh: FAILED: a notebook with only a correct forward() should pass tests 1.1 and 1.2" in setup.stderr
    assert "environment ready" not in setup.stdout


# Gradescope's envelope: a 768 MB memory cgroup, half a CPU (cgroup quota), Docker's default capabilities (no
# CAP_SYS_ADMIN, so no network namespace). The cgroups are made below this process's own (cgroup v1).
MEMORY_LIMIT = 768 * 1024 * 1024


def _own_cgroup(controller: str) -> Path:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return Path("/sys/fs/cgroup") / controller / path.lstrip("/")
    return Path("/sys/fs/cgroup") / controller


@pytest.fixture
def envelope():
    """(wrap, None): wrap(command) is the command run inside the envelope, `wrap.memory` its memory cgroup folder;
    (None, why) where this machine cannot make one."""
    name = f"a0-envelope-{sandbox_user()}-{os.getpid()}"
    memory, cpu = _own_cgroup("memory") / name, _own_cgroup("cpu") / name
    try:
        memory.mkdir()
        cpu.mkdir()
    except OSError as error:
        yield None, f"cgroup v1 memory and cpu controllers not writable here ({error})"
        return
    (memory / "memory.limit_in_bytes").write_text(str(MEMORY_LIMIT))
    if (memory / "memory.memsw.limit_in_bytes").exists():
        (memory / "memory.memsw.limit_in_bytes").write_text(str(MEMORY_LIMIT))  # no swapping past it either
    (cpu / "cpu.cfs_period_us").write_text("100000")
    (cpu / "cpu.cfs_quota_us").write_text("50000")

    def wrap(command):
        enter = 'echo $$ > "$1/cgroup.procs" && echo $$ > "$2/cgroup.procs" && shift 2 && exec "$@"'
        return [
            "sh",
            "-c",
            enter,
            "sh",
            str(memory),
            str(cpu),
            "setpriv",
            "--bounding-set",
            "-sys_admin",
            "--inh-caps",
            "-sys_admin",
            *command,
        ]

    wrap.memory = memory
    yield wrap, None
    for folder in (memory, cpu):
        for _ in range(100):  # the cgroup can be removed once its last process has gone
            try:
                folder.rmdir()
                break
            except OSError:
                for pid in (folder / "cgroup.procs").read_text().split():
                    subprocess.run(["kill", "-9", pid], capture_output=True)
                time.sleep(0.1)


@pytest.mark.slow(50)
def test_built_zip_sets_up_and_grades_in_gradescopes_layout_and_envelope(tmp_path, autograder_root, envelope):
    """One setup.sh and grading serve both checks (each costs seconds): the layout everywhere, the envelope where
    this machine can make one."""
    envelope, why_not = envelope
    wrap = envelope or list
    root = prepare(autograder_root, tmp_path)
    setup = run_setup(root, wrap)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert f"setup.sh: environment ready in {root / 'venv'}" in setup.stdout
    assert "a test notebook graded as expected" in setup.stdout
    layers = next(line for line in setup.stdout.splitlines() if line.startswith("setup.sh: sandbox layers in force"))
    assert "user switch" in layers and ("Landlock ABI" in layers) == bool(landlock_abi()), layers
    for private in ("grader", "assignments", "tests"):
        assert stat.S_IMODE((root / "source" / private).stat().st_mode) & 0o077 == 0

    results, log, seconds = grade_in_layout(root, solution(), wrap)
    assert results["score"] == FULL_MARKS, results["output"]
    assert all(test["status"] == "passed" for test in results["tests"])
    # The zip carries the course's secret: a local grading gives the very numbers Gradescope showed the student.
    assert (root / "source" / ".grader-secret").read_bytes() == secret_of(tmp_path / "autograder.zip").read_bytes()
    assert results["extra_data"]["secret"] == fingerprint(secret_of(tmp_path / "autograder.zip").read_bytes())
    checkout = grader_copy(tmp_path / "checkout")  # a TA's checkout holding the course's secret (the zip's)
    shutil.copy2(secret_of(tmp_path / "autograder.zip"), checkout / ".grader-secret")
    local = grade(
        save(solution(), tmp_path / "local"), tmp_path / "local" / "results.json", runner=checkout / "run_autograder"
    )
    assert {t["number"]: t["output"] for t in local["tests"]} == {t["number"]: t["output"] for t in results["tests"]}
    assert "largest difference" in output_of(local, "1.2")
    assert local["extra_data"]["grader_version"] == results["extra_data"]["grader_version"]
    if envelope is None:
        print(f"SKIPPED the envelope (768 MB, half a CPU, no CAP_SYS_ADMIN): {why_not}")
        return
    peak = int((envelope.memory / "memory.max_usage_in_bytes").read_text()) // 2**20
    print(f"envelope: solution {results['score']}/{FULL_MARKS} in {seconds:.1f} s, peak {peak} MiB (setup included)")
    print(next(line for line in log.splitlines() if line.startswith("[sandbox] child runs")))

    bomb = solution()
    bomb.cells.insert(1, nbformat.v4.new_code_cell("hog = []\nwhile True:\n    hog.append(bytearray(50_000_000))"))
    results, log, seconds = grade_in_layout(root, bomb, envelope)
    oom_kills = (envelope.memory / "memory.oom_control").read_text()
    print(f"envelope: memory bomb graded in {seconds:.1f} s, score {results['score']}; {oom_kills.split()}")
    assert len(results["tests"]) >= 9 and results["score"] < FULL_MARKS
