"""The runner's entry point: confine itself, read the notebook's code cells, run them, call the student's objects,
report. What it says about the notebook itself comes from the reader (grader/child/reader.py), not from here: once
the first cell has run, this process is the notebook's."""

# Everything from the grader is imported now, before the child may no longer read the grader's files; torch is
# imported before the submission's folder is on sys.path (a `torch.py` in the upload must not replace it).
import json
import os
import signal
import sys

from ..notebook.read import cell_defines, code_cells
from ..records import CELLS, CELLS_DONE, NOTE, READY
from .apart import probe_apart, stop_background
from .cells import new_shell, run_cells
from .confine import confine
from .probes import run_probes
from .report import Reporter, end, imported, read_or_end


def main(config: dict) -> None:
    reporter = Reporter(config["channel_fd"])
    requests = _private_stdin()
    calls = {name: imported(path) for name, path in config["probes"].items()}  # the probes' own modules only
    isolation = confine(config)
    import IPython.core.interactiveshell  # noqa: F401
    import nbformat  # noqa: F401
    import torch

    torch.set_num_threads(1)
    reporter.send(READY, isolation=isolation)
    if requests.readline().strip() == b"":  # the parent says go once the reader has read the notebook
        end(reporter)  # nothing to run (the reader found no notebook to grade)
    cells = read_or_end(reporter, config, code_cells)
    sys.path[:] = [config["workdir"]] + [p for p in sys.path if p not in ("", config["root"])]
    reporter.send(CELLS, count=len(cells))

    sent: set = set()

    def note(text) -> None:  # skipped magics and Colab calls, once each
        if text not in sent and len(sent) < 100:
            sent.add(text)
            reporter.send(NOTE, text=text[:2000], **({"cell": shell.cell} if shell.cell else {}))

    shell = new_shell(note, config.get("stand_ins"))
    run_cells(shell, cells, reporter, config["cell_timeout"], cell_defines, set(config.get("skip_cells", ())))
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # torch's DataLoader handler must not blame the next probe

    def probe() -> None:  # apart from the notebook's threads (apart.py)
        reporter.send(CELLS_DONE)
        line = requests.readline()  # the probes' inputs: sent only now, so no cell could find them in memory
        if config.get("uid") is not None:
            stop_background()
        if line.strip():
            run_probes(shell.user_ns, json.loads(line)["probes"], calls, reporter, config["probe_timeout"])
        end(reporter)

    probe_apart(reporter, probe)
    end(reporter)


def _private_stdin():
    """The parent's requests move to a descriptor of their own; the notebook's `input()` and stdin reads get EOF."""
    requests = os.fdopen(os.dup(0), "rb")  # its only reader: buffering cannot take bytes from anyone
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.stdin = open(0, closefd=False)
    return requests
