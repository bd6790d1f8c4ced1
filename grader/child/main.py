"""The child's entry point: confine itself, run the notebook's cells, call the student's objects, report."""
import json
import os
import signal
import sys

# Everything from the grader is imported now: once confined, the child can no longer read the grader's files.
from .confine import confine
from .cells import new_namespace, run_cells
from .probes import run_probes
from .report import Reporter

_kill = os.kill   # kept before student code can replace it


def main(grader_root: str, config_json: str):
    config = json.loads(config_json)
    reporter = Reporter(config["channel_fd"])
    isolation = confine(config)
    sys.path[:] = [config["workdir"]] + [p for p in sys.path if p != grader_root]
    import torch  # the notebook imports it anyway; loading it here overlaps the parent's parsing
    torch.set_num_threads(1)
    reporter.send({"event": "ready", "isolation": isolation})

    spec = json.loads(sys.stdin.buffer.read())
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)   # input() and stdin reads get EOF
    sys.stdin = open(0, closefd=False)

    namespace = new_namespace()
    run_cells(spec["cells"], namespace, reporter, config["cell_timeout"])
    if config.get("uid") is not None:
        _stop_background_processes()
    run_probes(namespace, spec["probes"], reporter, config["probe_timeout"])
    reporter.send({"event": "done"})
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)   # no interpreter teardown: the student's __del__ and atexit hooks do not run


def _stop_background_processes():
    """What the cells left running (a fork bomb, a sleeper) would only compete with the grader's checks.

    kill(-1) as the sandbox user reaches all its processes except this one; never done without the user switch."""
    try:
        _kill(-1, signal.SIGKILL)
    except OSError:
        pass   # there were none
