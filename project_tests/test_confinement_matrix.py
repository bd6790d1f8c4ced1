"""The sandbox holds in every setting a course grades in: as root, as root without CAP_SYS_ADMIN (Docker's
default, Gradescope) and as an ordinary user (a TA's laptop, no sudo). In each, `python -m grader.batch` grades two
notebooks at once from a copy of the checkout: one tries to write the checkout, the home and ~/.ssh of the user running
the batch and the batch's OUT, and to read solution/, tests/, grader/, .grader-secret, OUT's CSVs, the export
and the other grading's scratch folder; the other is the solution, which still gets full marks. The checks are on
what the test sees: files on disk, `git status`, grades.csv, OUT's modes; the attacking notebook's own report only
says which attempts it made and what they read (nothing of any secret may be in it)."""

import csv
import json
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from conftest import FULL_MARKS, ROOT, sandbox_user, save, solution

from grader.child.confine import landlock_abi
from grader.terminal import print_table

SETTINGS = ("root", "root without CAP_SYS_ADMIN", "ordinary user")
WAIT = 180  # seconds, for each step of the two notebooks' rendezvous

# The notebooks meet the test through files in their scratch folders (the only place they can write): each marks its
# role, the attacker waits for its targets and writes its report, the victim holds its scratch open until told.
ROLE = """import json, os, time
open("role-{role}", "w").write("{tag}")
{extra}for _ in range({ticks}):
    if os.path.exists("{wait_for}"):
        break
    time.sleep(0.1)
"""
ATTACK = """import json, os

def attempt(op, path):
    try:
        if op == "read":
            with open(path, "rb") as f:
                data = f.read(300)
            return "ok: " + data.decode("latin-1") if data else "empty"
        if op == "list":
            names = os.listdir(path)
            return "ok: " + " ".join(sorted(names)[:30]) if names else "empty"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a" if op == "append" else "w") as f:
            f.write("\\n# planted by a notebook\\n")
        return "ok"
    except OSError as error:
        return f"refused: {type(error).__name__} {error.errno}"

attempts = json.load(open("targets.json"))
report = {f"{op} {path}": attempt(op, path) for op, path in attempts}
report["control"] = attempt("create", os.path.abspath("mine")) + " / " + attempt("read", os.path.abspath("mine"))
with open("report.tmp", "w") as f:
    json.dump(report, f)
os.rename("report.tmp", "attack-report.json")
print(report)
"""


def _require(setting: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: the test makes the three settings (setpriv, a user of its own)")
    if setting != "root" and not landlock_abi():
        pytest.skip(f"{setting}: this kernel has no Landlock, the only file policy without root's namespaces")
    tool = {"root without CAP_SYS_ADMIN": "setpriv", "ordinary user": "runuser"}.get(setting)
    if tool and not shutil.which(tool):
        pytest.skip(f"{setting}: no `{tool}` on this machine")


def _ordinary_user() -> pwd.struct_passwd:
    name = sandbox_user() + "-ta"
    made = subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], capture_output=True, text=True, timeout=60)
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pytest.skip(f"ordinary user: `useradd -m {name}` failed: {made.stderr.strip()[:200]}")


def _checkout(base: Path, owner: pwd.struct_passwd) -> Path:
    """A git checkout of the grader (committed, so `git status` shows any change) with its venv the way `make venv`
    makes it: as root a link to the shared venv, as another user a plain `.venv` folder inside the checkout (here
    hard links to the shared one's files, which stay root's)."""
    checkout = base / "checkout"
    for name in ("grader", "assignments", "tests", "solution"):
        shutil.copytree(ROOT / name, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("run_autograder", ".gitignore"):
        shutil.copy2(ROOT / name, checkout / name)
    git = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@t"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "checkout"]):
        subprocess.run([*git, *command], check=True, timeout=60, capture_output=True)
    (checkout / ".grader-secret").write_bytes(secrets.token_hex(16).encode())
    # readable by all, as a checkout often is: only the sandbox keeps the sandbox user out
    subprocess.run(["chmod", "-R", "a+rX", str(checkout)], check=True, timeout=60)
    os.chmod(checkout / ".grader-secret", 0o600)
    subprocess.run(["chown", "-R", f"{owner.pw_uid}:{owner.pw_gid}", str(checkout)], check=True, timeout=60)
    venv = os.path.realpath(ROOT / ".venv")
    if owner.pw_uid:  # after chown -R: the hard links share the shared venv's files, which must stay root's
        subprocess.run(["cp", "-al", venv, str(checkout / ".venv")], check=True, timeout=120)
    else:
        (checkout / ".venv").symlink_to(venv)
    return checkout


def _scratch(role: str, tag: str, batch: subprocess.Popen) -> Path:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and batch.poll() is None:
        for folder in Path("/tmp").glob("a0-sandbox-*"):
            try:
                if (folder / f"role-{role}").read_text() == tag:
                    return folder
            except OSError:
                continue
        time.sleep(0.2)
    raise AssertionError(f"the {role} notebook never started: {_ended(batch)}")


def _drop(folder: Path, name: str, text: str) -> None:
    (folder / f".{name}.tmp").write_text(text)
    os.chmod(folder / f".{name}.tmp", 0o644)
    os.replace(folder / f".{name}.tmp", folder / name)


def _wait_for(path: Path, batch: subprocess.Popen, scratch: Path) -> str:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and batch.poll() is None:
        if path.exists():
            return path.read_text()
        time.sleep(0.2)
    seen = sorted(os.listdir(scratch)) if scratch.exists() else "gone"
    raise AssertionError(f"{path.name} never appeared (the scratch folder holds {seen}): {_ended(batch)}")


def _ended(batch: subprocess.Popen) -> str:
    if batch.poll() is None:
        return "still running"
    logs = [log.read_text(errors="replace")[-2000:] for log in Path(batch.args[-3]).glob("*/log.txt")]
    return (
        f"the batch ended with exit {batch.returncode}: "
        + batch.stdout.read().decode(errors="replace")[-3000:]
        + ("\n".join(logs))
    )


def _private(out: Path) -> list:
    """Everything under OUT that its group or others could reach."""
    return [str(p) for p in [out, *out.rglob("*")] if stat.S_IMODE(p.lstat().st_mode) & 0o077 and not p.is_symlink()]


@pytest.mark.slow(15)
@pytest.mark.parametrize("setting", SETTINGS)
def test_no_notebook_reaches_the_graders_files_and_the_solution_gets_full_marks(setting):
    _require(setting)
    tag = secrets.token_hex(8)
    user = _ordinary_user() if setting == "ordinary user" else pwd.getpwuid(0)
    base = Path(tempfile.mkdtemp(prefix="a0-matrix-", dir="/tmp"))
    batch = victim = None
    planted_by_root = [Path(user.pw_dir) / f".a0-planted-{tag}", Path(user.pw_dir) / ".ssh" / f"a0-planted-{tag}"]
    # the shared memory of the user running the batch (a TA's own, as an ordinary user)
    shm, shm_planted, shm_secret = Path(f"/dev/shm/a0-ta-{tag}"), Path(f"/dev/shm/a0-planted-{tag}"), f"shm-{tag}"
    try:
        os.chmod(base, 0o755)
        checkout = _checkout(base, user)
        home = Path(user.pw_dir)
        if setting == "ordinary user":
            (home / ".ssh").mkdir(mode=0o700, exist_ok=True)
            (home / ".ssh" / "authorized_keys").write_text("ssh-ed25519 AAAA the-ta\n")
            (home / ".bashrc").write_text("# the TA's own\n")
            subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(home)], check=True, timeout=60)
        shm.write_text(shm_secret)
        os.chmod(shm, 0o600)
        os.chown(shm, user.pw_uid, user.pw_gid)
        watched = {p: p.read_bytes() for p in (home / ".bashrc", home / ".ssh" / "authorized_keys", shm) if p.exists()}

        export, out = base / "export", base / "out"
        attacker = nbformat.v4.new_notebook(
            cells=[
                nbformat.v4.new_code_cell(
                    ROLE.format(role="attacker", tag=tag, extra="", ticks=WAIT * 20, wait_for="targets.json")
                ),
                nbformat.v4.new_code_cell(ATTACK),
                # its scratch (where the report is) stays until the test has read the report
                nbformat.v4.new_code_cell(
                    ROLE.format(role="reported", tag=tag, extra="", ticks=WAIT * 10, wait_for="report-read")
                ),
            ]
        )
        save(attacker, export / "submission_1")
        victim_secret = f"victim-secret-{tag}"
        victim_nb = solution()
        victim_nb.cells.insert(
            0,
            nbformat.v4.new_code_cell(
                ROLE.format(
                    role="victim",
                    tag=tag,
                    extra=f'open("victim-secret.txt", "w").write("{victim_secret}")\n',
                    ticks=WAIT * 10,
                    wait_for="go-on",
                )
            ),
        )
        save(victim_nb, export / "submission_2")
        roster = f"roster-secret-{tag}"
        (export / "submission_metadata.yml").write_text(
            f"submission_1:\n  :submitters:\n  - :name: {roster}\n    :email: a@uw.edu\n"
            "submission_2:\n  :submitters:\n  - :name: Victim\n    :email: v@uw.edu\n"
        )
        out.mkdir()
        for name in ("grades.csv", "answers.csv"):  # a previous run's output, as an older grader left it
            (out / name).write_text(f"submission_id,name\n9,{roster}\n")
            os.chmod(out / name, 0o644)
        for path in (export, out):
            subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(path)], check=True, timeout=60)
        secret = (checkout / ".grader-secret").read_text()

        command = [
            str(checkout / ".venv" / "bin" / "python"),
            "-m",
            "grader.batch",
            str(export),
            str(out),
            "--jobs",
            "2",
        ]
        prefix = {
            "root": [],
            "root without CAP_SYS_ADMIN": ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin"],
            "ordinary user": ["runuser", "-u", user.pw_name, "--"],
        }[setting]
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(home),
            "A0_SANDBOX_PREFIX": sandbox_user() + ("-u" if user.pw_uid else "-m"),
            "LANG": "C.UTF-8",
        }
        batch = subprocess.Popen(
            [*prefix, *command],
            cwd=checkout,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        attack = _scratch("attacker", tag, batch)
        victim = _scratch("victim", tag, batch)
        targets = [
            ["append", f"{checkout}/grader/scoring/checks.py"],
            ["create", f"{checkout}/grader/planted.py"],
            ["create", f"{checkout}/.git/hooks/pre-commit"],
            ["create", str(planted_by_root[0])],
            ["create", str(planted_by_root[1])],
            ["create", f"{out}/planted.txt"],
            ["append", f"{out}/grades.csv"],
            ["read", f"{checkout}/solution/A0.ipynb"],
            ["read", f"{checkout}/tests/{sorted(os.listdir(checkout / 'tests'))[-1]}"],
            ["read", f"{checkout}/grader/settings.py"],
            ["read", f"{checkout}/.grader-secret"],
            ["read", f"{out}/grades.csv"],
            ["read", f"{out}/answers.csv"],
            ["read", f"{export}/submission_metadata.yml"],
            ["read", f"{victim}/victim-secret.txt"],
            ["list", str(checkout)],
            ["list", str(out)],
            ["list", str(victim)],
            ["read", str(shm)],
            *([["list", "/dev/shm"]] if user.pw_uid else []),  # a sandbox user may see its own, swept after
            # the home of the user running the batch, given here: a pwd lookup in the child fails once a useradd
            # elsewhere has replaced /etc/passwd (Landlock's rule holds the file it saw, not the new one)
            ["append", f"{home}/.bashrc"],
            ["append", f"{home}/.ssh/authorized_keys"],
            ["create", f"{home}/.ssh/planted"],
            ["create", f"{home}/planted"],
        ]
        # a sandbox user may write /dev/shm, an ordinary user's child its private one: checked on the real one below
        shm_writes = [["append", str(shm)], ["create", str(shm_planted)]]
        _drop(attack, "targets.json", json.dumps(targets + shm_writes))
        report = json.loads(_wait_for(attack / "attack-report.json", batch, attack))
        _drop(attack, "report-read", "")
        _drop(victim, "go-on", "")
        output = batch.communicate(timeout=600)[0].decode(errors="replace")
        assert batch.returncode == 0, output[-3000:]

        control = report.pop("control")
        for op, path in shm_writes:
            report.pop(f"{op} {path}")
        assert control == "ok / ok: \n# planted by a notebook\n", control  # the attempts themselves work
        assert len(report) == len(targets)
        # refused, or (as root, in a mount namespace) the path covered by an empty file or folder
        failed = {attempt: result for attempt, result in report.items() if result.startswith(("refused", "empty"))}
        assert failed == report, {attempt: result[:80] for attempt, result in report.items() if attempt not in failed}
        said = json.dumps(list(report.values()))
        for text in (secret, roster, victim_secret, shm_secret, "def ", "A0", "checks.py"):
            assert text not in said, text

        status = subprocess.run(
            ["git", "-c", "safe.directory=*", "-C", str(checkout), "status", "--porcelain"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0 and status.stdout == "", status.stdout + status.stderr
        assert not (checkout / ".git" / "hooks" / "pre-commit").exists()
        assert {p: p.read_bytes() for p in watched} == watched
        assert not [p for p in [*planted_by_root, home / "planted", home / ".ssh" / "planted"] if p.exists()]
        assert not (out / "planted.txt").exists()
        assert not shm_planted.exists()

        with open(out / "grades.csv", newline="", encoding="utf-8-sig") as f:
            totals = {r["submission_id"]: r["total"] for r in csv.DictReader(f)}
        assert totals["2"] == f"{FULL_MARKS:g}", totals
        assert _private(out) == []
    finally:
        if victim is not None and victim.exists() and not (victim / "go-on").exists():
            _drop(victim, "go-on", "")
        if batch is not None and batch.poll() is None:
            os.killpg(batch.pid, signal.SIGKILL)
            batch.wait(timeout=60)
        for path in [*planted_by_root, shm, shm_planted]:
            path.unlink(missing_ok=True)  # only there if the sandbox failed, and then the test failed too
        shutil.rmtree(base, ignore_errors=True)
        if setting == "ordinary user":
            subprocess.run(["userdel", "-r", user.pw_name], capture_output=True, timeout=60)


NOTHING_CONFINES = (  # a batch run as if by a TA on macOS or a kernel before Landlock
    "import os, sys; sys.path.insert(0, sys.argv[1]); from grader import batch; "
    "batch.landlock_abi = lambda: 0; os.geteuid = lambda: 1000; sys.exit(batch.main(sys.argv[2:]))"
)


def test_a_batch_where_nothing_confines_files_refuses_unless_the_ta_names_the_risk(tmp_path):
    (tmp_path / "export").mkdir()
    out = tmp_path / "out"
    command = [sys.executable, "-c", NOTHING_CONFINES, str(ROOT), str(tmp_path / "export"), str(out)]
    env = {**os.environ, "A0_SANDBOX_PREFIX": sandbox_user()}  # this worker's batch lock, as every batch test's
    refused = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert refused.returncode == 2 and "REFUSED" in refused.stderr and "your home" in refused.stderr, refused.stderr
    assert "--unconfined-notebooks-can-read-and-change-my-files" in refused.stderr and not out.exists()
    risked = subprocess.run(
        [*command, "--unconfined-notebooks-can-read-and-change-my-files"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert risked.returncode == 0, risked.stderr[-2000:]
    assert (out / "grades.csv").exists() and _private(out) == []


def test_a_single_grading_where_nothing_confines_files_warns(capsys):
    results = {"score": 0, "tests": [], "extra_data": {"not_in_force": ["user switch (the grader is not root)"]}}
    print_table(results, "r.json")
    assert "WARNING" not in capsys.readouterr().out  # Landlock was in force
    results["extra_data"]["not_in_force"].append("Landlock (files confined by permissions only)")
    print_table(results, "r.json")
    assert "WARNING: nothing confined this notebook's files" in capsys.readouterr().out
