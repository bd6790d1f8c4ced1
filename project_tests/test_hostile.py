"""Hostile notebooks: each attack is a code cell added to the solution (or the template).

Whatever the attack, `hostile.grade` checks what the grader must guarantee: results.json is valid, written by the
grader (root) and under 1 MB, no process of the sandbox user is left, no secret (tests, reference, solution) is in
results.json or in the folder the attack could write to, and grading ended within its time limit. Each test then
checks the score the notebook honestly deserves and that the attack really ran.
"""

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import nbformat
import pytest
from conftest import (
    BACKPROP,
    FORWARD,
    FULL_MARKS,
    ROOT,
    RUN_AUTOGRADER,
    SCHEMA,
    SERVER,
    SOLUTION,
    SOLUTION_CELLS,
    SOURCE,
    assert_inert,
    code_cells,
    edit_cell,
    job,
    output_of,
    sandbox_user,
    save,
    scores,
    solution,
)

from assignments.a0.rubric import RUBRIC
from grader.sandbox.cleanup import remove_tree

CELL_TIMEOUT, PROBE_TIMEOUT, TIMEOUT = 5, 3, 45
SPIN_TIMEOUT = 2  # for attacks that burn CPU until stopped: the notebook's other cells take milliseconds
FILE_MB = 8
LIMITS = (
    "--cell-timeout",
    str(CELL_TIMEOUT),
    "--probe-timeout",
    str(PROBE_TIMEOUT),
    "--timeout",
    str(TIMEOUT),
    "--memory-mb",
    "2000",
    "--max-processes",
    "32",
    "--file-mb",
    str(FILE_MB),
)
SLACK = 20  # starting, scoring and cleaning up, on a busy machine
SECRETS = {
    ROOT / "tests" / "test_rubric.py": "return loader.loadTestsFromTestCase(line_cases(ASSIGNMENT))",
    ROOT / "assignments" / "a0" / "reference.py": "def gradients(x: Array, Y: Array, W1: Array",
    SOLUTION: "z1_grad = h_grad * (z1 >= 0).float()",
}
ATTACK = SOLUTION_CELLS + 1  # the number of a code cell added after the solution's
NOTHING = {number for number, item in RUBRIC.items() if item.points}  # every line that has points


@dataclass
class Graded:
    results: dict
    log: str  # run_autograder's stdout: the instructor-only log
    seconds: float


class Hostile:
    """Grades hostile notebooks, with a results folder like Gradescope's and a world-writable drop folder."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.results_dir = Path(tempfile.mkdtemp(prefix="a0h-results-"))  # root's, 755: /autograder/results
        self.results_dir.chmod(0o755)
        self.results = self.results_dir / "results.json"
        # world-writable like /tmp, where an attack can leave files for the test to read; not under /tmp, whose files
        # of the sandbox user the grader sweeps away when the grading ends
        self.drop = Path(tempfile.mkdtemp(prefix="a0h-drop-", dir="/var/lib"))
        self.drop.chmod(0o1777)

    def code(self, text: str) -> str:
        """The attack's code with DROP and KNOWN_RESULTS (the results file's path) filled in."""
        return text.replace("DROP", repr(str(self.drop))).replace("KNOWN_RESULTS", repr(str(self.results)))

    def grade(self, nb, *options, cold: bool = False) -> Graded:
        """Graded as the batch grades (grader.serve, its children forked warm), or `cold` as run_autograder does."""
        submission = save(nb, self.tmp_path / "submission")
        argv = ["--submission", str(submission.parent), "--results", str(self.results), "--quiet"]
        argv += ["--sandbox-user", sandbox_user(), *LIMITS]
        argv += ["--writable", str(self.drop), *options]  # Landlock: the one place outside its scratch to write
        log = self.tmp_path / "log.txt"
        started = time.monotonic()
        if cold or os.environ.get("A0_TEST_COLD"):
            completed = subprocess.run(
                [str(RUN_AUTOGRADER), *argv], capture_output=True, text=True, timeout=TIMEOUT + 2 * SLACK
            )
            assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
            log.write_text(completed.stdout)
        else:
            assert SERVER.grade(job(argv), log=log, timeout=TIMEOUT + 2 * SLACK) == 0, log.read_text()[-3000:]
        seconds = time.monotonic() - started
        assert seconds < TIMEOUT + SLACK
        uid = pwd.getpwnam(sandbox_user()).pw_uid
        assert _processes_of(uid) == [] and _ipc_of(uid) == [] and _files_of(uid) == []
        assert not list(Path(tempfile.gettempdir()).glob("a0-sandbox-*")) or all(
            p.stat().st_uid != uid for p in Path(tempfile.gettempdir()).glob("a0-sandbox-*")
        )
        text = self.results.read_text()
        results = json.loads(text)
        jsonschema.validate(results, SCHEMA)
        assert_inert(results)
        assert self.results.stat().st_uid == 0 and len(text.encode()) < 1_000_000
        assert sorted(scores(results)) == sorted(RUBRIC) and results["output"].startswith("**Notebook:**")
        for secret in _secrets_not_in(submission.read_text()):
            assert secret not in text
            for path in self.drop.rglob("*"):
                assert not path.is_file() or secret.encode() not in path.read_bytes(), path
        return Graded(results, log.read_text(), seconds)

    def cleanup(self):
        shutil.rmtree(self.results_dir, ignore_errors=True)
        shutil.rmtree(self.drop, ignore_errors=True)


@pytest.fixture
def hostile(tmp_path):
    runner = Hostile(tmp_path)
    yield runner
    runner.cleanup()


def _processes_of(uid: int) -> list:
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["Uid"].split()[0]) == uid:
            found.append((int(entry), fields["Name"].strip(), fields["State"].strip()))
    return found


def _ipc_of(uid: int) -> list:
    """System V IPC objects (shared memory, semaphores, message queues) that uid owns or created."""
    found = []
    for kind in ("shm", "sem", "msg"):
        lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        header = lines[0].split()
        for line in lines[1:]:
            fields = dict(zip(header, line.split()))
            if uid in (int(fields["uid"]), int(fields["cuid"])):
                found.append((kind, fields["key"]))
    return found


def _files_of(uid: int) -> list:
    """What uid owns in the places every user can write (the drop folder is the test's own, under /var/lib)."""
    found = subprocess.run(
        ["find", "/tmp", "/var/tmp", "/dev/shm", "/run/lock", "-xdev", "-uid", str(uid)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return found.stdout.split()


def _secrets_not_in(notebook_text: str) -> list:
    """The secrets this submission does not already contain (a notebook built from the solution holds its code)."""
    for path, secret in SECRETS.items():
        assert secret in path.read_text(), (path, secret)
    return [secret for secret in SECRETS.values() if json.dumps(secret)[1:-1] not in notebook_text]


def with_cell(nb, code: str):
    """Add a code cell at the end, where every exercise is defined."""
    compile(code, "<attack>", "exec")  # a typo in an attack would make its test pass for nothing
    nb.cells.append(nbformat.v4.new_code_cell(code))
    return nb


def assert_score(graded: Graded, lost: set = frozenset()):
    """The score is the full marks minus exactly the rubric lines in `lost`."""
    results = graded.results
    failed = {t["number"]: t["output"][:400] for t in results["tests"] if t["score"] < t["max_score"]}
    assert set(failed) == set(lost), (failed, results["output"][:3000])
    assert results["score"] == FULL_MARKS - sum(RUBRIC[number].points for number in lost)


def summary_line(results: dict, cell: int) -> str:
    """The summary's line about a cell that did not finish normally."""
    return next((line for line in results["output"].splitlines() if line.startswith(f"- cell {cell} (")), "")


RESULTS_PATHS = '''
import glob, json, os, sys, time
FAKE = json.dumps({"score": 100.0, "tests": [{"name": "pwned", "score": 100.0, "max_score": 1.0}]})

def results_paths():
    """Every --results path on a command line in /proc, and Gradescope's."""
    found = {"/autograder/results/results.json"}
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            args = open(path, "rb").read().decode(errors="replace").split("\\0")
        except OSError:
            continue
        if "--results" in args[:-1]:
            found.add(args[args.index("--results") + 1])
    return sorted(found)

def overwrite(path):
    try:
        with open(path, "w") as f:
            f.write(FAKE)
        return "written"
    except OSError as exc:
        return type(exc).__name__
'''


# -- cheating on the results
@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold"])
def test_writing_the_results_file_is_refused(hostile, cold):
    nb = with_cell(
        solution(),
        hostile.code(
            RESULTS_PATHS
            + '''
paths = sorted({*results_paths(), KNOWN_RESULTS})  # a batch's results path is on no command line: told here
outcomes = {path: overwrite(path) for path in paths}
for path in paths:
    try:
        os.chmod(os.path.dirname(path), 0o777)
        outcomes[path + " (folder)"] = "chmod done"
    except OSError as exc:
        outcomes[path + " (folder)"] = type(exc).__name__
json.dump(outcomes, open(DROP + "/outcomes.json", "w"))
raise RuntimeError("ATTACK on the results file done")
'''
        ),
    )
    graded = hostile.grade(nb, cold=cold)
    assert_score(graded)
    outcomes = json.loads((hostile.drop / "outcomes.json").read_text())
    assert outcomes[str(hostile.results)] in ("PermissionError", "OSError")  # OSError: hidden, read-only
    assert outcomes[f"{hostile.results} (folder)"] in ("PermissionError", "OSError")
    assert "ATTACK on the results file done" in summary_line(graded.results, ATTACK)


def test_a_fake_results_json_printed_before_os_exit_scores_nothing(hostile):
    nb = with_cell(
        solution(),
        hostile.code(
            RESULTS_PATHS
            + '''
print(FAKE)
for fd in map(int, os.listdir("/proc/self/fd")):   # the grader's channel among them
    try:
        os.write(fd, (FAKE + "\\n").encode())
    except OSError:
        pass
open(DROP + "/exited", "w").close()
os._exit(0)
'''
        ),
    )
    graded = hostile.grade(nb)
    assert (hostile.drop / "exited").exists()
    assert_score(graded, NOTHING)
    assert "pwned" not in json.dumps(graded.results)
    forward = output_of(graded.results, "1.1")
    assert f"The notebook's process ended during cell {ATTACK}, with exit code 0" in forward
    assert "The grader could not check `forward(x)`" in forward
    assert "The grader could not check `backprop(X)`" in output_of(graded.results, "2.1")
    assert "The grader received data it did not send" in graded.results["output"]


def test_a_background_process_cannot_rewrite_the_results_later(hostile):
    nb = with_cell(
        solution(),
        hostile.code(
            RESULTS_PATHS
            + '''
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:   # orphaned grandchild in its own session: outlives the notebook if it can
        while True:
            with open(DROP + "/alive", "a") as f:
                f.write("beat\\n")
            for path in results_paths():
                overwrite(path)
            time.sleep(0.05)
    os._exit(0)
os.wait()
time.sleep(0.5)
'''
        ),
    )
    graded = hostile.grade(nb)
    assert_score(graded)
    written, beats = hostile.results.read_text(), (hostile.drop / "alive").read_text()
    assert beats.startswith("beat\n")  # it ran...
    time.sleep(1)
    assert (hostile.drop / "alive").read_text() == beats and hostile.results.read_text() == written  # ...no more


@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold"])
def test_the_graders_files_cannot_be_read(hostile, cold):
    """From the template (which does not hold the solution): tests, reference code and solution, also via .git."""
    template = nbformat.read(SOURCE, as_version=4)
    nb = with_cell(
        template,
        hostile.code('''
import os, subprocess, sys, zlib
import gc   # the child's command line no longer names the grader's folder: its configuration, in memory, does
root = next(o["root"] for o in gc.get_objects() if isinstance(o, dict) and "root" in o and "entry" in o)
loot, readable = [], 0
for base in (root, "/autograder", f"/proc/{os.getppid()}/cwd"):
    for folder, subfolders, files in os.walk(base):
        subfolders[:] = [d for d in subfolders if d not in (".venv", "venv")]
        for name in files:
            try:
                data = open(os.path.join(folder, name), "rb").read(2_000_000)
            except OSError:
                continue
            readable += 1
            try:
                data = zlib.decompress(data)   # git's loose objects
            except zlib.error:
                pass
            loot.append(data)
for spec in ("HEAD:tests/test_rubric.py", "HEAD:assignments/a0/reference.py", "HEAD:solution/A0.ipynb"):
    try:
        git = subprocess.run(["git", "-c", "safe.directory=*", "-C", root, "show", spec], capture_output=True)
        loot.append(git.stdout)
    except OSError:
        pass
text = b"\\n".join(loot).decode("utf-8", "replace")
with open(DROP + "/loot.txt", "w") as f:
    f.write(text)
os.chmod(DROP + "/loot.txt", 0o644)
print(text)
found = [text[max(i - 20, 0):i + 80] for i in map(text.find, ("line_cases", "def gradients", "z1_grad")) if i >= 0]
raise RuntimeError(f"LOOT from {readable} files: {found}")
'''),
    )
    graded = hostile.grade(nb, cold=cold)
    assert_score(graded, NOTHING)
    assert (hostile.drop / "loot.txt").exists()  # the attack ran to its end
    assert "LOOT from" in summary_line(graded.results, len(code_cells(template)))


# -- lying inside its own process
MUTANTS = (
    (FORWARD, "h = z1.relu()", "h = z1.sigmoid()"),
    (BACKPROP, "B2_grad = z2_grad.sum(0)", "B2_grad = z2_grad.mean(0)"),
)


def test_monkeypatched_comparisons_do_not_rescue_wrong_answers(hostile):
    nb = solution()
    for cell, old, new in MUTANTS:  # forward and the output-layer gradients are wrong: 1.2 and 2.2 fail
        edit_cell(nb, cell, old, new)
    with_cell(
        nb,
        '''
import unittest, numpy, torch
import torch.nn.functional as F
torch.allclose = torch.equal = numpy.allclose = lambda *args, **kwargs: True
torch.Tensor.__eq__ = torch.Tensor.__ne__ = lambda self, other: True
F.mse_loss = mse_loss = lambda *args, **kwargs: torch.tensor(0.0)
for name in dir(unittest.TestCase):
    if name.startswith("assert") or name == "fail":
        setattr(unittest.TestCase, name, lambda *args, **kwargs: None)
assert torch.allclose(torch.zeros(1), torch.ones(1)) and F.mse_loss(1, 2) == 0
''',
    )
    graded = hostile.grade(nb)
    assert_score(graded, {"1.2", "2.2"})
    assert f"- cell {ATTACK} (" not in graded.results["output"]  # the attack ran without an error


def test_a_tensor_subclass_that_answers_every_comparison_with_true_is_read_as_plain_numbers(hostile):
    nb = with_cell(
        solution(),
        '''
class Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("eq", "__eq__", "ne", "__ne__", "allclose", "equal", "isclose",
                                              "lt", "le", "gt", "ge", "__lt__", "__le__", "__gt__", "__ge__"):
            return True
        return super().__torch_function__(func, types, args, kwargs)

    def tolist(self):
        return [[0.5, 0.5]] * len(self)

honest_forward, honest_backprop = forward, backprop

def forward(x):
    return (honest_forward(x) * 0.9).as_subclass(Liar)

def backprop(x):
    return tuple((grad + 1).as_subclass(Liar) for grad in honest_backprop(x))

assert forward(X) == 42 and torch.allclose(forward(X), torch.zeros(1))
''',
    )
    graded = hostile.grade(nb)
    assert_score(graded, {"1.2", "2.2", "2.3"})  # right shapes (1.1, 2.1), wrong values
    assert f"- cell {ATTACK} (" not in graded.results["output"]


# -- crashing the grader
@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold"])
def test_killing_the_parent_is_not_permitted(hostile, cold):
    nb = with_cell(
        solution(),
        '''
import os, signal
outcomes = []
for what, kill in (("parent", lambda: os.kill(os.getppid(), signal.SIGKILL)),
                   ("parent group", lambda: os.killpg(os.getpgid(os.getppid()), signal.SIGKILL))):
    try:
        kill()
        outcomes.append(f"{what}: killed")
    except OSError as exc:
        outcomes.append(f"{what}: {type(exc).__name__}")
raise RuntimeError("ATTACK " + ", ".join(outcomes))
''',
    )
    graded = hostile.grade(nb, cold=cold)
    assert_score(graded)
    assert "ATTACK parent: PermissionError, parent group: PermissionError" in summary_line(graded.results, ATTACK)


def test_os_exit_during_the_graders_call_loses_only_the_checks_not_made(hostile):
    nb = with_cell(
        solution(),
        '''
import os
honest_forward = forward

def forward(x):
    if len(x) != 20:   # the notebook's own X has 20 rows; the grader's inputs do not
        os._exit(3)
    return honest_forward(x)
''',
    )
    graded = hostile.grade(nb)
    assert_score(graded, {"1.1", "1.2", "2.1", "2.2", "2.3"})  # model and ToyModel were checked first
    assert "The notebook's process ended during the grader's call of `forward(x)`, with exit code 3" in output_of(
        graded.results, "1.1"
    )
    assert "The grader could not check `backprop(X)`" in output_of(graded.results, "2.1")


def test_a_segmentation_fault_is_reported(hostile):
    nb = with_cell(solution(), "import ctypes\nctypes.string_at(0)")
    graded = hostile.grade(nb)
    assert_score(graded, NOTHING)
    assert f"The notebook's process crashed (segmentation fault) during cell {ATTACK}" in output_of(
        graded.results, "1.1"
    )


# -- starving the grader
def test_an_endless_loop_and_a_long_sleep_are_interrupted_and_the_run_goes_on(hostile):
    nb = with_cell(with_cell(solution(), "while True:\n    pass"), "import time\ntime.sleep(10**6)")
    graded = hostile.grade(nb, "--cell-timeout", str(SPIN_TIMEOUT))
    assert_score(graded)
    for cell in (ATTACK, ATTACK + 1):
        assert f"cell {cell} ran longer than {SPIN_TIMEOUT} s" in summary_line(graded.results, cell)
    assert graded.seconds < 2 * SPIN_TIMEOUT + SLACK


def test_a_loop_that_catches_the_interrupt_is_stopped_from_outside(hostile):
    nb = with_cell(
        solution(),
        '''
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
''',
    )
    graded = hostile.grade(nb, "--cell-timeout", str(SPIN_TIMEOUT))
    assert_score(graded)  # the notebook ran again from a fresh start without that cell (issue 19)
    assert f"cell {ATTACK} ran longer than {SPIN_TIMEOUT} s and did not stop when interrupted" in summary_line(
        graded.results, ATTACK
    )
    assert graded.seconds < 2 * SPIN_TIMEOUT + 2 * SLACK


def test_a_function_that_never_returns_to_the_grader_is_stopped(hostile):
    nb = with_cell(
        solution(),
        '''
import time
honest_forward = forward

def forward(x):
    while len(x) != 20:   # only when the grader calls it
        try:
            time.sleep(1)
        except BaseException:
            pass
    return honest_forward(x)
''',
    )
    graded = hostile.grade(nb)
    assert_score(graded, {"1.1", "1.2", "2.1", "2.2", "2.3"})  # model and ToyModel were checked first
    assert f"The grader's call of `forward(x)` ran past its {PROBE_TIMEOUT} s limit and did not stop" in output_of(
        graded.results, "1.1"
    )


def test_a_memory_bomb_fails_in_its_cell(hostile):
    nb = with_cell(
        with_cell(solution(), "torch.ones(3_000_000_000)"),
        '''
hog = []
while True:
    hog.append(bytearray(100_000_000))
''',
    )
    graded = hostile.grade(nb)
    assert_score(graded)
    assert "RuntimeError" in summary_line(graded.results, ATTACK)
    assert "MemoryError" in summary_line(graded.results, ATTACK + 1)


def test_a_fork_bomb_is_held_by_the_process_limit(hostile):
    nb = with_cell(
        solution(),
        '''
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
''',
    )
    graded = hostile.grade(nb, "--cell-timeout", str(SPIN_TIMEOUT))
    assert_score(graded)
    assert f"cell {ATTACK} ran longer than {SPIN_TIMEOUT} s" in summary_line(graded.results, ATTACK)


def test_300_mb_of_output_is_kept_head_and_tail_only(hostile):
    nb = with_cell(
        solution(),
        '''
import sys
line = "x" * 999 + "\\n"
for _ in range(300_000):
    sys.stdout.write(line)
print("THE END")
''',
    )
    graded = hostile.grade(nb)
    assert_score(graded)
    assert "THE END" in graded.log and len(graded.log) < 200_000
    assert "bytes not kept" in graded.log


def test_results_stay_under_1_mb_whatever_the_notebook_raises_or_answers(hostile):
    nb = solution()
    answer = next(c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("**Answer:**"))
    answer.source = "**Answer:** " + "\N{PILE OF POO}" * 200_000
    for _ in range(500):  # each a line of the summary: its first line and its error, 12 bytes a character in JSON
        with_cell(nb, '# ' + "\N{PILE OF POO}" * 100 + '\nraise ValueError("\\N{PILE OF POO}" * 5000)')
    graded = hostile.grade(nb)  # checks the size
    assert_score(graded)
    assert "\N{PILE OF POO}" * 100 in output_of(graded.results, "3")
    assert "and 441 more cells" in graded.results["output"]


def test_a_3_gb_file_is_stopped_by_the_file_size_limit(hostile):
    nb = with_cell(
        solution(),
        hostile.code('''
chunk = b"x" * 2**20
with open(DROP + "/big.bin", "wb") as f:
    for _ in range(3 * 1024):
        f.write(chunk)
'''),
    )
    graded = hostile.grade(nb)
    assert_score(graded)
    assert "File too large" in summary_line(graded.results, ATTACK)
    assert (hostile.drop / "big.bin").stat().st_size <= FILE_MB * 2**20


def test_the_network_is_cut_off(hostile):
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    nb = with_cell(
        solution(),
        f'''
import socket
outcomes = []
for family, address in ((socket.AF_INET, ("127.0.0.1", {server.getsockname()[1]})), (socket.AF_INET, ("1.1.1.1", 53)),
                        (socket.AF_INET6, ("::1", 80))):
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(address)
            s.sendall(b"solution please")
        outcomes.append("connected")
    except OSError as exc:
        outcomes.append(type(exc).__name__)
raise RuntimeError("ATTACK " + ", ".join(outcomes))
''',
    )
    try:
        graded = hostile.grade(nb)
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
    assert accepted == []
    assert_score(graded)
    assert "ATTACK PermissionError, PermissionError, PermissionError" in summary_line(graded.results, ATTACK)


def test_the_solution_gets_full_marks_with_the_sandbox_on(hostile):
    graded = hostile.grade(solution())  # its real 10,000 steps are graded in test_grading, with the default limits
    assert_score(graded)
    assert f"child runs as user `{sandbox_user()}`" in graded.log
    assert "seccomp (socket() refused for every family but AF_UNIX" in graded.log and '"processes": 32' in graded.log


# -- issue 10: every grading ends clean
def test_ipc_objects_and_files_in_every_writable_place_are_swept(hostile):
    nb = with_cell(
        solution(),
        hostile.code('''
import ctypes, os, tempfile
libc = ctypes.CDLL(None, use_errno=True)
ids = [libc.shmget(0x5a000 + i, 256 * 2**20, 0o1000 | 0o600) for i in range(3)]   # IPC_CREAT
for place in ("/tmp", "/var/tmp", "/dev/shm"):
    for i in range(300):
        open(f"{place}/a0h-left-{os.getpid()}-{i}", "w").close()
deep = os.path.abspath("deep")
os.makedirs(deep)
os.chdir(deep)
for _ in range(3000):
    os.mkdir("d")
    os.chdir("d")
os.chdir("/")
open(DROP + "/made", "w").write(repr(ids))
'''),
    )
    # Landlock refuses /tmp and /var/tmp; opened here, as where Landlock is missing, to test the sweep itself
    graded = hostile.grade(nb, "--writable", "/tmp", "--writable", "/var/tmp")
    assert_score(graded)  # the grading checks that no process, IPC object or file of the sandbox user is left
    assert "-1" not in (hostile.drop / "made").read_text()


def test_a_real_time_signal_ending_the_process_is_described(hostile):
    nb = with_cell(solution(), "import os, signal\nos.kill(os.getpid(), 40)")
    graded = hostile.grade(nb)
    assert_score(graded, NOTHING)
    assert f"was stopped by signal 40 during cell {ATTACK}" in output_of(graded.results, "1.1")


def test_a_folder_1100_deep_in_the_upload_is_cut_with_a_note(hostile, tmp_path):
    deep = save(solution(), tmp_path / "submission").parent
    fd = os.open(deep, os.O_RDONLY)
    for _ in range(1100):
        os.mkdir("d", dir_fd=fd)
        fd_next = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = fd_next
    os.close(fd)
    try:
        graded = hostile.grade(solution())
        assert_score(graded)
        assert "Folders deeper than 20 levels were not copied." in graded.results["output"]
    finally:
        remove_tree(deep / "d")  # pytest's own cleanup of tmp_path recurses and would fail on it


def test_a_notebook_that_fills_the_disk_still_gets_its_results(tmp_path):
    disk = Path(tempfile.mkdtemp(prefix="a0h-disk-", dir="/var/lib"))  # reachable by the sandbox user
    disk.chmod(0o755)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(disk)]).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        nb = with_cell(
            solution(),
            '''
import os
chunk = b"x" * 2**20
try:
    for i in range(1000):
        with open(f"fill-{i}.bin", "wb") as f:
            for _ in range(7):
                f.write(chunk)
except OSError as exc:
    print("full:", exc)
''',
        )
        submission = save(nb, tmp_path / "submission")
        results = disk / "results" / "results.json"
        done = subprocess.run(
            [
                str(RUN_AUTOGRADER),
                "--submission",
                str(submission.parent),
                "--results",
                str(results),
                "--quiet",
                "--sandbox-user",
                sandbox_user(),
                *LIMITS,
            ],
            env={**os.environ, "TMPDIR": str(disk)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        graded = Graded(json.loads(results.read_text()), done.stdout, 0)
        assert_score(graded)
    finally:
        subprocess.run(["umount", "-l", str(disk)])
        disk.rmdir()
