"""The reader's entry point: confine itself, read the notebook, report what it holds, render it for the TA.

It never runs the notebook's code, so what it reports is as trustworthy as the notebook's text (bounded, inert):
the checked definitions, the results of the assignment's readings (Assignment.readings, imported by their paths
before it is confined), code reaching into the grader, the code's fingerprint; and, for the staff, the images of
the answer graded by hand and the notebook as HTML. The cells are run by the runner (grader/child/main.py), side
by side.
"""

import base64
import os
from collections.abc import Callable

from ..notebook.read import read
from ..records import LOADED, NOTEBOOK, READY, TA_FILE
from .clock import CellTimeout, time_limit
from .confine import confine
from .report import Reporter, end, imported, read_or_end

MAX_IMAGES = 5
RENDER_SECONDS = 120


def main(config: dict) -> None:
    reporter = Reporter(config["channel_fd"])
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # the configuration was its only input
    render: Callable | None = None
    if config.get("ta_files"):  # the grader's folder is out of sight once confined: import it now
        from .render import render_notebook as render
    names = config["names"]
    readings = {name: imported(path) for name, path in config.get("readings", {}).items()}
    isolation = confine(config)
    import nbformat  # noqa: F401

    reporter.send(READY, isolation=isolation)
    notebook = read_or_end(
        reporter,
        config,
        lambda workdir, sought: read(
            workdir, sought, names=names, readings=readings, loaded=lambda: reporter.send(LOADED)
        ),
    )
    reporter.send(NOTEBOOK, info=notebook.info)
    if render:
        _send_ta_files(reporter, notebook, render)
    end(reporter)


def _send_ta_files(reporter, notebook, render_notebook) -> None:
    """The images of the answer graded by hand, and the notebook's body as HTML (the parent makes it a page)."""
    for index, (mime, data) in enumerate(notebook.images[:MAX_IMAGES], 1):
        name = f"answer-{index}.{mime.split('/')[-1]}"
        reporter.send(TA_FILE, name=name, base64=base64.b64encode(data).decode())
    try:
        with time_limit(RENDER_SECONDS, anywhere=True):
            body = render_notebook(notebook.node)
        data = base64.b64encode(body.encode("utf-8", "replace")).decode()
        reporter.send(TA_FILE, name="notebook.html", base64=data)
    except (ImportError, CellTimeout, Exception):  # noqa: BLE001  -- a TA convenience: the grade does not depend on it
        pass
