"""The child's entry point: confine itself, read the notebook, run its cells, call the student's objects, report."""

import base64
import json
import os
import signal
import sys
from pathlib import Path

# Everything from the grader is imported now, before the child may no longer read the grader's files; torch is
# imported before the submission's folder is on sys.path (a `torch.py` in the upload must not replace it).
from ..notebook.locate import SubmissionProblem
from ..notebook.read import cell_defines, read
from .cells import CellTimeout, new_shell, run_cells, time_limit
from .confine import confine
from .probes import run_probes
from .report import Reporter

_kill = os.kill  # kept before student code can replace it


def main(grader_root: str, config_json: str) -> None:
    config = json.loads(config_json)
    reporter = Reporter(config["channel_fd"])
    render = None
    if config.get("ta_files"):  # the grader's folder is out of sight once confined: import it now
        from .render import render_notebook as render
    isolation = confine(config)
    import IPython.core.interactiveshell  # noqa: F401
    import nbformat  # noqa: F401

    reporter.send({"event": "ready", "isolation": isolation})

    request = json.loads(sys.stdin.buffer.read())
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # input() and stdin reads get EOF
    sys.stdin = open(0, closefd=False)

    try:
        with time_limit(config["read_timeout"], anywhere=True):
            notebook = read(Path(config["workdir"]), config.get("handout_code"))
    except (SubmissionProblem, CellTimeout, MemoryError, RecursionError) as problem:
        reason = (
            str(problem)
            if isinstance(problem, SubmissionProblem)
            else (
                "Your notebook could not be read within the grader's limits (it is too large or too deeply nested). "
                "Clear the outputs (Edit > Clear All Outputs), save, download it again and upload that file."
            )
        )
        reporter.send({"event": "ungradable", "reason": reason[:20000]})
        _end(reporter)
    import torch  # only now: an upload without a notebook gets its message a second sooner

    torch.set_num_threads(1)
    sys.path[:] = [config["workdir"]] + [p for p in sys.path if p not in ("", grader_root)]
    reporter.send({"event": "notebook", "info": notebook.info})

    sent = set()

    def note(text) -> None:  # skipped magics and Colab calls, once each
        if text not in sent and len(sent) < 100:
            sent.add(text)
            reporter.send({"event": "note", "text": text[:2000], **({"cell": shell.cell} if shell.cell else {})})

    shell = new_shell(note)
    failed = run_cells(
        shell, notebook.cells, reporter, config["cell_timeout"], cell_defines, set(config.get("skip_cells", ()))
    )
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # torch's DataLoader handler must not blame the next probe
    if config.get("uid") is not None:
        _stop_background_processes()
    run_probes(shell.user_ns, request["probes"], reporter, config["probe_timeout"])
    if config.get("ta_files"):
        _send_ta_files(reporter, notebook, failed, render)
    _end(reporter)


def _end(reporter) -> None:
    reporter.send({"event": "done"})
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no interpreter teardown: the student's __del__ and atexit hooks do not run


def _send_ta_files(reporter, notebook, failed, render_notebook) -> None:
    """For the TA tools only (`--ta-files`): the notebook rendered to HTML here, where parsing it is allowed."""
    for index, (mime, data) in enumerate(notebook.images[:5], 1):
        reporter.send(
            {
                "event": "ta_file",
                "name": f"answer-{index}.{mime.split('/')[-1]}",
                "base64": base64.b64encode(data).decode(),
            }
        )
    try:
        with time_limit(120, anywhere=True):
            html = render_notebook(notebook.node, failed)
        reporter.send(
            {
                "event": "ta_file",
                "name": "notebook.html",
                "base64": base64.b64encode(html.encode("utf-8", "replace")).decode(),
            }
        )
    except (ImportError, CellTimeout, Exception):  # noqa: BLE001  -- a TA convenience: the grade does not depend on it
        pass


def _stop_background_processes() -> None:
    """What the cells left running (a fork bomb, a sleeper) would only compete with the grader's checks.

    kill(-1) as the sandbox user reaches all its processes except this one; never done without the user switch."""
    try:
        _kill(-1, signal.SIGKILL)
    except OSError:
        pass  # there were none
