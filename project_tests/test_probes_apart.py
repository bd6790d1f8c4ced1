"""The grader's calls run apart from the notebook's threads, a notebook's patch of the grader's reporting does not
hide failed cells or timeouts from the staff, and notebook idioms are not taken for reaching into the grader.

Graded like test_hostile.py's attacks (its `hostile` fixture: every guarantee of a grading checked)."""

import pytest
from conftest import solution
from test_hostile import ATTACK, CELL_TIMEOUT, Hostile, assert_score, with_cell

from grader.notebook.scan import grader_probing


@pytest.fixture
def hostile(tmp_path):
    runner = Hostile(tmp_path)
    yield runner
    runner.cleanup()


# A daemon thread that watches the grader's probing frames: it reads the probes' inputs and zeroes the weights the
# student's functions read (the functions wait a little, so that the thread always finds them running), and
# replaces `backprop` in the namespace. Beside the probes, it costs the notebook tests 1.1, 2.2 and 2.3.
WATCHER = """
import os, sys, threading, time
_honest_forward, _honest_backprop = forward, backprop

def forward(x):
    time.sleep(0.2)
    return _honest_forward(x)

def backprop(x):
    time.sleep(0.2)
    return _honest_backprop(x)

def _watch():
    while True:
        for frame in list(sys._current_frames().values()):
            while frame is not None:
                ns = frame.f_locals.get('ns') if frame.f_code.co_filename.endswith('probes.py') else None
                if isinstance(ns, dict):
                    with open(os.path.join(DROP, 'seen'), 'a') as out:
                        out.write(frame.f_code.co_name + ' ' + str(sorted(frame.f_locals.get('inputs', {}))) + '\\n')
                    for name in ('W1', 'W2'):
                        if name in ns:
                            ns[name] = ns[name] * 0
                    ns['backprop'] = lambda x: None
                    break
                frame = frame.f_back
        time.sleep(0.001)

threading.Thread(target=_watch, daemon=True).start()
open(os.path.join(DROP, 'started'), 'w').write('1')
"""


@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold"])
def test_a_thread_watching_the_probes_finds_nothing_to_read_or_change(hostile, cold):
    graded = hostile.grade(with_cell(solution(), hostile.code(WATCHER)), cold=cold)
    assert_score(graded)
    assert (hostile.drop / "started").exists()  # the thread ran, beside the notebook's cells
    assert not (hostile.drop / "seen").exists()  # and never beside the grader's calls


@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold"])
def test_the_solution_gets_full_marks_with_its_probes_apart(hostile, cold):
    assert_score(hostile.grade(solution(), cold=cold))


def test_probes_work_after_the_notebook_trained_with_several_threads(hostile):
    """torch's OpenMP threads are not copied into the process that probes: it must not wait for them."""
    threads = """
import torch
torch.set_num_threads(2)
net = torch.nn.Sequential(torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 1))
step = torch.optim.SGD(net.parameters(), lr=0.01)
data = torch.randn(512, 128)  # past at::parallel_for's grain: the threads start
for _ in range(3):
    step.zero_grad()
    net(data).pow(2).mean().backward()
    step.step()
print(torch.get_num_threads(), (torch.randn(300, 300) @ torch.randn(300, 300)).shape)
_honest_forward = forward

def forward(x):  # work large enough for a parallel region, in the grader's call too
    torch.rand(600, 600).exp().sum()
    return _honest_forward(x)
"""
    graded = hostile.grade(with_cell(solution(), threads), "--cell-timeout", "30")  # two threads on a busy machine
    assert_score(graded)
    output = graded.results["output"][-3000:]
    assert not graded.results["extra_data"]["failed_cells"][1:], output  # the handout's cell raising on purpose


# -- the staff see failed cells and timeouts, whatever the notebook does to the grader's reporting
CLASS_PATCH = """
import sys
_module = sys.modules['gra' + 'der.chi' + 'ld.rep' + 'ort']
_kind = getattr(_module, 'Rep' + 'orter')
_sent = getattr(_kind, 'se' + 'nd')

def _quiet(self, event, **fields):
    if fields.get('status') in ('error', 'timeout'):
        fields = {'cell': fields['cell'], 'status': 'ok', 'seconds': float(fields.get('seconds') or 0.0)}
    return _sent(self, event, **fields)

setattr(_kind, 'se' + 'nd', _quiet)
_blank = {'type': 'Nothing', 'message': '', 'cell': None, 'line': None}
setattr(sys.modules['gra' + 'der.chi' + 'ld.cel' + 'ls'], 'desc' + 'ribe', lambda exc, brief=False: _blank)
"""
# The reporter found through the garbage collector, its writes filtered: this cell's end is forged, and no later
# cell's start or end reaches the parent (so the watchdog sees no cell running)
INSTANCE_PATCH = """
import os
_collector = __import__('g' + 'c')
for _found in getattr(_collector, 'get_' + 'objects')():
    if type(_found).__name__ == 'Rep' + 'orter':
        _write = _found._write
        _write(_found.fd, b'{"event": "cell_end", "cell": CELL, "status": "ok", "seconds": 0.1}\\n')
        _found._write = lambda fd, data: len(data) if data[:16] == b'{"event": "cell_' else _write(fd, data)
"""
FAILING = "raise RuntimeError('hidden failure')"
OVERRUN = "import signal, time\nsignal.setitimer(signal.ITIMER_REAL, 0)\ntime.sleep({seconds})"


def test_a_disguised_patch_of_the_reporter_class_hides_no_failed_cell_and_no_timeout(hostile):
    nb = with_cell(with_cell(with_cell(solution(), CLASS_PATCH), FAILING), "import time\ntime.sleep(60)")
    graded = hostile.grade(nb)
    facts = graded.results["extra_data"]
    assert {ATTACK + 1, ATTACK + 2} <= set(facts["failed_cells"])
    assert "cell_timeout" in facts["flags"], graded.results["output"][-3000:]
    assert "RuntimeError: hidden failure" in graded.results["output"]
    assert "reaches_into_grader" not in facts["flags"]  # disguised: only the grader's own observations show it
    assert_score(graded)


@pytest.mark.slow(15)
def test_a_reporter_patched_through_the_garbage_collector_is_seen_by_the_parent(hostile):
    """Past its limit and the watchdog's grace (both 5 s here), by the parent's own clock."""
    overrun = OVERRUN.format(seconds=2 * CELL_TIMEOUT + 3)
    patch = INSTANCE_PATCH.replace("CELL", str(ATTACK))
    graded = hostile.grade(with_cell(with_cell(with_cell(solution(), patch), FAILING), overrun))
    facts = graded.results["extra_data"]
    assert {ATTACK + 1, ATTACK + 2} <= set(facts["failed_cells"])
    assert facts["flag_sources"].get("cell_timeout") == "parent"
    # the reader's scan folds the assembled names (`'get_' + 'objects'`) and reads the reach first; the parent's own
    # observation (a cell whose end never came) is in the output below
    assert facts["flag_sources"].get("reaches_into_grader") == "reader"
    assert f"did not report how cell {ATTACK + 1} ended" in graded.results["output"]
    assert "past its time limit" in graded.results["output"]
    assert_score(graded)


# -- reaches_into_grader: what reaches the grader, never a notebook's own settings
IDIOMS = {
    "argparse": "import argparse, sys\nsys.argv = ['']\nparser = argparse.ArgumentParser()\n"
    "parser.add_argument('--lr', type=float, default=0.1)\nargs = parser.parse_args()",
    "argv_extended": "import sys\nsys.argv += ['--epochs', '3']",
    "environ": "import os\nos.environ['PYTHONHASHSEED'] = '0'\nos.environ.setdefault('OMP_NUM_THREADS', '1')",
    "environ_replaced": "import os\nos.environ = dict(os.environ, TOKENIZERS_PARALLELISM='false')",
    "warnings": "import warnings\nwarnings.filterwarnings('ignore')\nwarnings.simplefilter('ignore', UserWarning)",
    "path_append": "import os, sys\nsys.path.append(os.getcwd())\nsys.path.insert(0, '.')",
    "path_extended": "import os, sys\nsys.path += [os.path.abspath('.')]",
}
REACHES = {
    "gc": "import gc\nobjects = gc.get_objects()",
    "frames": "import sys\nframe = sys._getframe(1)",
    "patched torch": "import torch\ntorch.Tensor.__matmul__ = lambda a, b: a",
    "patched json": "import json\njson.loads = len",
    "channel": "import os\nos.write(3, b'{}')",
    "grader module": "import sys\nsys.modules['grader.child.report'].Reporter.send = print",
    "grader folder": "import sys\nsys.path.insert(0, '/autograder/source')",
}


@pytest.mark.parametrize("idiom", sorted(IDIOMS))
def test_a_notebook_setting_is_not_reaching_into_the_grader(idiom):
    assert grader_probing(["import torch", IDIOMS[idiom]]) == []


@pytest.mark.parametrize("reach", sorted(REACHES))
def test_reaching_into_the_grader_is_still_read(reach):
    assert grader_probing(["import torch", REACHES[reach]])


def test_every_idiom_at_once_grades_with_full_marks_and_no_flag(hostile):
    nb = solution()
    for idiom in sorted(IDIOMS):
        nb = with_cell(nb, IDIOMS[idiom])
    graded = hostile.grade(nb)
    assert_score(graded)
    assert graded.results["extra_data"]["flags"] == []
