"""Sweeping what a sandbox user left: processes, System V IPC objects, files in the writable places,
folders however deep; what belongs to other users stays."""

import json
import os
import shutil
import subprocess
import sys
import uuid
from contextlib import nullcontext
from pathlib import Path

import pytest
from conftest import processes_of, sandbox_user

from grader.sandbox import cleanup
from grader.sandbox.lease import system_user

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: throwaway users")
PLACES = ("/tmp", "/var/tmp", "/dev/shm")
# the venv's python by its real folder: other users cannot enter a checkout in a closed folder (.venv is a link)
PYTHON = os.path.join(os.path.realpath(os.path.dirname(sys.executable)), os.path.basename(sys.executable))
DEPTH = 3000

# Run as the user: what a hostile notebook could leave behind. Prints what it made.
LEAVE_BEHIND = r'''
import ctypes, json, os, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
IPC_CREAT, IPC_PRIVATE = 0o1000, 0
tag, places, depth, foreign = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), sys.argv[4]
ids = [libc.shmget(IPC_PRIVATE, ctypes.c_size_t(size), IPC_CREAT | 0o600) for size in (64 << 20, 4096, 1 << 20)]
ids += [libc.semget(IPC_PRIVATE, 3, IPC_CREAT | 0o600), libc.msgget(IPC_PRIVATE, IPC_CREAT | 0o600)]
ids.append(libc.mq_open(f"/{tag}".encode(), os.O_CREAT | os.O_RDWR, 0o600, None))   # a POSIX message queue
assert min(ids) >= 0, ctypes.get_errno()
for place in places:
    top = os.path.join(place, tag)
    os.mkdir(top)
    for i in range(200):
        with open(os.path.join(place if i % 2 else top, f"{tag}-{i}"), "w") as f:
            f.write("x" * i)
    fd = os.open(top, os.O_RDONLY)
    for _ in range(depth):   # deeper than PATH_MAX allows as one path
        os.mkdir("d", dir_fd=fd)
        fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(old)
    open(os.open("bottom", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd)).close()
    os.chmod(fd, 0o000)   # the deepest folder, and another one, unreadable by their owner
    os.close(fd)
    os.makedirs(os.path.join(top, "locked", "inner"))
    open(os.path.join(top, "locked", "inner", "f"), "w").close()
    os.chmod(os.path.join(top, "locked"), 0o000)
    os.mkfifo(os.path.join(place, f"{tag}-fifo"))
    os.symlink(foreign, os.path.join(place, f"{tag}-link"))   # only the link goes, not what it points to
    open(os.path.join(os.path.dirname(foreign), f"{tag}-in-a-foreign-folder"), "w").close()
sleeper = subprocess.Popen(["sleep", "1000"], start_new_session=True, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(json.dumps({"ipc": ids, "sleeper": sleeper.pid}))
'''


@pytest.fixture
def users():
    # the worker's own pair: two tests of this file on two pytest-xdist workers must not share (and userdel) them
    prefix = sandbox_user()
    victim, bystander = system_user(f"{prefix}-swept"), system_user(f"{prefix}-bystander")
    yield victim, bystander
    for user in (victim, bystander):
        cleanup.sweep_user(user.pw_uid)
        subprocess.run(["userdel", user.pw_name], check=False)


def _as(user, *command, **kwargs):
    return subprocess.run(
        command,
        user=user.pw_uid,
        group=user.pw_gid,
        extra_groups=[],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        **kwargs,
    )


def _ipc_of(uid: int) -> list:
    found = []
    for kind in ("shm", "sem", "msg"):
        header, *rows = [line.split() for line in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()]
        found += [
            (kind, row) for row in rows if str(uid) in (dict(zip(header, row))["uid"], dict(zip(header, row))["cuid"])
        ]
    return found


def _files_of(uid: int) -> list:
    return subprocess.run(
        ["find", *cleanup.WRITABLE_PLACES, "-uid", str(uid)], capture_output=True, text=True
    ).stdout.split()


def _queues_of(uid: int) -> list:
    """POSIX message queues, where or not /dev/mqueue is mounted."""
    mounted = os.path.isdir("/dev/mqueue")
    with nullcontext("/dev/mqueue") if mounted else cleanup._mqueue_mounted() as folder:
        return [entry.name for entry in os.scandir(folder) if entry.stat().st_uid == uid]


@pytest.mark.slow(9)
def test_sweep_user_leaves_nothing_of_the_user_and_everything_of_others(users):
    victim, bystander = users
    tag = f"a0hC-{uuid.uuid4().hex[:8]}"
    # the bystander: a world-writable folder (like the hostile tests' drop folder), a file, a process, an IPC object
    shared = Path(f"/tmp/{tag}-shared")
    _as(bystander, "mkdir", "-m", "1777", str(shared))
    _as(bystander, "sh", "-c", f"echo keep > {shared}/keep; echo keep > /dev/shm/{tag}-keep")
    json.loads(  # a segment of the bystander's, which must survive
        _as(
            bystander,
            PYTHON,
            "-c",
            "import ctypes, json; print(json.dumps(ctypes.CDLL(None).shmget(0, 4096, 0o1600)))",
        ).stdout
    )
    kept_process = subprocess.Popen(
        ["sleep", "1000"], user=bystander.pw_uid, group=bystander.pw_gid, extra_groups=[], start_new_session=True
    )
    try:
        made = json.loads(
            _as(victim, PYTHON, "-c", LEAVE_BEHIND, tag, ",".join(PLACES), str(DEPTH), str(shared / "keep")).stdout
        )
        assert made["sleeper"] in processes_of(victim.pw_uid)
        assert len(_ipc_of(victim.pw_uid)) == 5
        assert len(_files_of(victim.pw_uid)) > 3 * (200 + DEPTH) and _queues_of(victim.pw_uid) == [tag]

        counts = cleanup.sweep_user(victim.pw_uid)

        assert processes_of(victim.pw_uid) == [] and _ipc_of(victim.pw_uid) == []
        assert _files_of(victim.pw_uid) == [] and _queues_of(victim.pw_uid) == []
        assert counts["processes"] >= 1 and counts["ipc"] == 5
        # per place: 200 files, its folder, the deep folders and the file at the bottom, locked/inner/f, fifo, link;
        # and the file in the bystander's folder, and the message queue
        assert counts["files"] == 3 * (200 + 1 + DEPTH + 1 + 3 + 1 + 1) + 1 + 1
        assert (shared / "keep").read_text() == "keep\n" and Path(f"/dev/shm/{tag}-keep").exists()
        assert kept_process.poll() is None and len(_ipc_of(bystander.pw_uid)) == 1
    finally:
        kept_process.kill()
        kept_process.wait()
        cleanup.remove_ipc(bystander.pw_uid)
        shutil.rmtree(shared, ignore_errors=True)
        Path(f"/dev/shm/{tag}-keep").unlink(missing_ok=True)


def _deep(top: Path, depth: int):
    fd = os.open(top, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(old)
    os.close(fd)


def test_remove_tree_however_deep_without_following_links(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    tree = tmp_path / "tree"
    tree.mkdir()
    _deep(tree, DEPTH)
    (tree / "link").symlink_to(outside)
    (tree / "locked").mkdir()
    (tree / "locked" / "f").write_text("x")
    (tree / "locked").chmod(0)
    with pytest.raises(RecursionError):
        shutil.rmtree(tree)
    cleanup.remove_tree(tree)
    assert not tree.exists() and (outside / "keep").read_text() == "keep"
    cleanup.remove_tree(tree)  # gone already: nothing to do
    cleanup.remove_tree(tmp_path / "no" / "such" / "folder")
    (tmp_path / "file").write_text("x")
    cleanup.remove_tree(tmp_path / "file")
    assert not (tmp_path / "file").exists()


def test_remove_tree_as_an_ordinary_user_of_its_own_locked_folders(users):
    """A TA's laptop: not root, the scratch folder's owner made folders unreadable or unwritable."""
    _, user = users
    top = Path(f"/tmp/a0hC-{uuid.uuid4().hex[:8]}")
    # cleanup's own source: a grading as root makes the grader's folder unreadable to other users
    script = (
        Path(cleanup.__file__).read_text()
        + f'''
top = {str(top)!r}
os.makedirs(top + "/a/b/c")
for name in ("a/f", "a/b/f", "a/b/c/f"):
    open(os.path.join(top, name), "w").close()
os.chmod(top + "/a/b/c", 0o000)
os.chmod(top + "/a/b", 0o500)
os.chmod(top + "/a", 0o000)
remove_tree(top)
print(os.path.exists(top))
'''
    )
    try:
        assert _as(user, PYTHON, "-c", script).stdout == "False\n"
    finally:
        cleanup.remove_tree(top)


def test_sweeping_root_or_oneself_is_refused():
    with pytest.raises(ValueError):
        cleanup.sweep_user(0)


def test_remove_tree_stops_at_its_bounds_and_at_mount_points(tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    (tree / "mounted").mkdir(parents=True)
    for i in range(1000):
        (tree / f"f{i}").touch()
    monkeypatch.setattr(cleanup, "MAX_ENTRIES", 100)
    cleanup.remove_tree(tree)
    assert 890 <= len(list(tree.iterdir())) < 1001
    monkeypatch.undo()
    subprocess.run(["mount", "-t", "tmpfs", "none", str(tree / "mounted")], check=True)
    try:
        (tree / "mounted" / "keep").write_text("keep")
        cleanup.remove_tree(tree)
        assert [path.name for path in tree.rglob("*")] == ["mounted", "keep"]
    finally:
        subprocess.run(["umount", str(tree / "mounted")], check=True)
    cleanup.remove_tree(tree)
    assert not tree.exists()


def test_a_sweep_skips_only_folders_the_user_could_not_have_entered(users):
    """Other people's closed trees (pytest's, a TA's) are not walked: the user could not have left anything there."""
    victim, _ = users
    top = Path(f"/tmp/a0hC-{uuid.uuid4().hex[:8]}")
    try:
        for name, mode in (("closed", 0o700), ("open", 0o755), ("group", 0o710)):
            (top / name).mkdir(parents=True)
            (top / name).chmod(mode)
            (top / name / "left").write_text("x")
            os.chown(top / name / "left", victim.pw_uid, victim.pw_gid)  # as if moved there by someone who could
        assert cleanup.remove_files_of(victim.pw_uid, places=(str(top),)) == 2
        assert sorted(p.parent.name for p in top.rglob("left")) == ["closed"]
    finally:
        shutil.rmtree(top)
