"""The files the grader writes for the course staff (`--ta-files DIR`): a fixed set of names, each capped in size.

Only the reader's files are taken (it never runs the notebook's code): the notebook page, built here around the
body the reader rendered, with the grader's own head (the restrictive CSP, so it holds when the page is opened on
its own), the cells the runner reported as failed marked as the notebook's own report; and the hand-graded answer's
images, whose bytes must be the image they claim to be. Anything else is dropped and noted.
"""

import base64
import html
import re
from pathlib import Path

NOTEBOOK_PAGE = "notebook.html"
IMAGE_MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff", "gif": b"GIF8"}
NAMES = re.compile(r"^(notebook\.html|answer-[1-5]\.(png|jpeg|gif))$")
MAX_PAGE_BYTES = 24 * 2**20
MAX_IMAGE_BYTES = 4 * 2**20
# No scripts, nothing from the network; images only from data: URIs; styles inline.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1em auto; max-width: 60em; padding: 0 1em; color: #222; }
pre, code { font: 12.5px/1.4 ui-monospace, monospace; }
.input_area { background: #f6f6f6; border: 1px solid #ddd; padding: 0 .5em; overflow-x: auto; }
.output_area pre, .output_subarea { overflow-x: auto; }
.prompt { display: none; }
.a0-cell { margin: .6em 0; }
.a0-number { color: #888; font-size: 11px; }
.a0-failed + .a0-cell .input_area { border: 2px solid #c00; }
.a0-failed { margin-top: 1em; padding: .3em .5em; background: #fdd; color: #800; font-weight: 600; }
.a0-own-report { color: #555; font-size: 12px; }
.output_stderr, .output_error pre { background: #fff3f3; }
img { max-width: 100%; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 2px 6px; }
"""
_SLOT = re.compile(r"<!--a0-slot-(\d{1,6})-->")
GRADER_NAMES = ("results.json", "log.txt", "feedback.html")  # what else the grader writes in a submission's folder


def notebook_page(body: str, failed: dict) -> str:
    """The page around the reader's body; `failed`: {code cell number: reason}, as the runner reported them."""
    marks = "".join(
        f'<li><a href="#a0-cell-{n}">cell {n}</a>: {html.escape(str(reason))}</li>'
        for n, reason in sorted(failed.items())
    )
    index = (
        '<p><b>Cells that did not finish normally</b> <span class="a0-own-report">(as the notebook\'s own process '
        f"reported them)</span>:</p><ul>{marks}</ul>"
        if marks
        else ""
    )

    def mark(match) -> str:
        n = int(match.group(1))
        if n not in failed:
            return ""
        return (
            f'<div class="a0-failed" id="a0-cell-{n}">cell {n} did not finish normally: '
            f"{html.escape(str(failed[n]))}</div>"
        )

    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<meta name="referrer" content="no-referrer">'
        f"<title>Graded notebook</title><style>{CSS}</style></head>\n<body>{index}\n{_SLOT.sub(mark, body)}\n"
        "</body></html>\n"
    )


def failed_cells(cells: dict) -> dict:
    """{cell number: short reason} from the runner's cell_end events of the cells that did not end ok."""
    reasons = {}
    for number, end in cells.items():
        error = end.get("error") or {}
        reason = f"{error.get('type')}: {error.get('message')}"
        if end["status"] == "exit":
            reason = (
                "argparse's parse_args() ended the cell" if end.get("exit_by") == "argparse" else "exit() was called"
            )
        reasons[number] = reason[:300]
    return reasons


def write_ta_files(folder: Path, files: dict, failed: dict) -> list:
    """Write the reader's files that pass; returns the names dropped (for the log). Files of an earlier grading
    with the grader's names are removed first, so none looks current."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        if NAMES.match(stale.name) and (stale.is_symlink() or stale.is_file()):
            stale.unlink()
    dropped = []
    for name, text in files.items():
        try:
            data = base64.b64decode(text, validate=True)
        except ValueError:
            data = None
        kind = name.rsplit(".", 1)[-1]
        if data is None or not NAMES.match(name):
            dropped.append(name)
        elif name == NOTEBOOK_PAGE and len(data) <= MAX_PAGE_BYTES:
            page = notebook_page(data.decode("utf-8", "replace"), failed)
            (folder / name).write_text(page, encoding="utf-8")
        elif kind in IMAGE_MAGIC and data.startswith(IMAGE_MAGIC[kind]) and len(data) <= MAX_IMAGE_BYTES:
            (folder / name).write_bytes(data)
        else:
            dropped.append(name)
    return dropped
