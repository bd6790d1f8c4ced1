"""Read the submitted notebook. Runs inside the confined child only, under its limits: the notebook is untrusted.

Finds the notebook in the scratch copy of the submission, parses it with nbformat (versions 3 to 4.5, upgraded to
4), and collects what scoring needs as plain data (records.NotebookInfo); the code cells are then run by
grader/child/cells.py.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..markdown import inline_code
from .locate import Sought, SubmissionProblem, locate
from .scan import CodeCells, code_fingerprint, defined_names, grader_probing, load_json


@dataclass
class Notebook:
    info: dict  # records.NotebookInfo, sent to the parent
    cells: list  # [(number, source)] of the code cells, 1-based as Jupyter counts after Restart & Run All
    node: object  # the nbformat NotebookNode (for the TA's HTML rendering)
    images: list  # images of the answer graded by hand, for the staff: [(mime, bytes)]


@dataclass
class Text:
    """What a reading (Assignment.readings) is given: the notebook as read, never run. Untrusted, any shape."""

    cells: list  # its cells, nbformat 4 dicts
    code: list  # [(number, source)] of its code cells
    parsed: CodeCells  # the code cells, parsed once (scan.py)
    definitions: dict  # {checked name: [code cells that define it]}
    images: list = field(default_factory=list)  # a reading adds (mime, bytes) of the answer's images for the staff


def read(
    workdir: Path, sought: Sought | None = None, loaded=lambda: None, names=(), readings: dict | None = None
) -> Notebook:
    """`loaded()` is called once the notebook's text is read and parsed, before it is analysed; `names` are what the
    probes call (Assignment.checked_names), whose defining cells are reported; `readings` ({name: function}) are the
    assignment's analyses, whose results are reported as plain JSON (a reading that fails reports None)."""
    sought = sought or Sought()
    located = locate(workdir, sought)
    nb = _parse(located.path, sought.max_bytes)
    loaded()
    cells = [cell for cell in nb.cells if isinstance(cell, dict)]
    code = _code(cells)
    parsed = CodeCells([source for _, source in code])
    definitions = {name: [n for n, source in code if _defines(source, name)][:100] for name in names}
    near = {name: found for name in names if not definitions[name] and (found := near_misses(name, code, names))}
    text = Text(cells, code, parsed, definitions)
    info = {
        "path": located.path.relative_to(workdir).as_posix()[:500],
        "reason": located.reason,
        "notes": [str(note)[:2000] for note in located.notes][:50],
        "cells": len(code),
        "definitions": definitions,
        "near": near,
        "readings": {name: _plain(reading, text) for name, reading in (readings or {}).items()},
        "grader_evidence": [line[:500] for line in grader_probing(parsed)][:20],
        "code_hash": code_fingerprint(cells),
    }
    return Notebook(info, code, nb, text.images)


def _plain(reading: Callable, text: Text):
    """The reading's result as plain JSON data, or None when it fails: an assignment's bug must not make the notebook
    ungradable (the reading time limit, a BaseException, still stops the reader). The parent bounds it (records)."""
    try:
        return json.loads(json.dumps(reading(text), allow_nan=False))
    except Exception:  # noqa: BLE001
        return None


def code_cells(workdir: Path, sought: Sought | None = None) -> list:
    """The runner's part of reading: the same notebook's code cells, [(number, source)]."""
    sought = sought or Sought()
    nb = _parse(locate(workdir, sought).path, sought.max_bytes)
    return _code([cell for cell in nb.cells if isinstance(cell, dict)])


def _code(cells: list) -> list:
    return [(n, _text(c.get("source"))) for n, c in enumerate((c for c in cells if c.get("cell_type") == "code"), 1)]


def cell_defines(source: str) -> list[str]:
    """The names a cell defines (scan.defined_names); for a cell that does not parse, those its top-level `def`,
    `class` and assignment lines would have defined, so a NameError can still be traced back to it."""
    names = defined_names(source)
    if names:
        return names
    found = re.findall(r"^(?:def|class)\s+([A-Za-z_]\w*)|^([A-Za-z_]\w*)\s*=(?!=)", source[:100_000], re.MULTILINE)
    return list(dict.fromkeys(a or b for a, b in found))[:200]


_ASCII_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")  # the names records take


def near_misses(name: str, code: list, names=()) -> list:
    """[[defined name, cell]] for the names the cells define that are a slip away from `name` (edit distance 1, 2
    for names of 6 letters or more, or another case: `foward`, `modle`, `Forward`), at most 3; not other names the
    probes call."""
    found: list = []
    for number, source in code:
        words = set(re.findall(r"\w+", source[:200_000])) - set(names)
        if not any(_slip_of(word, name) for word in words):
            continue  # no name a slip away in its text: not parsed
        for other in cell_defines(source):
            if (
                _ASCII_NAME.fullmatch(other)
                and other not in names
                and [other, number] not in found
                and _slip_of(other, name)
            ):
                found.append([other[:64], number])
                if len(found) == 3:
                    return found
    return found


def _slip_of(other: str, name: str) -> bool:
    if other == name or len(name) < 4 or abs(len(other) - len(name)) > 2 or len(other) > 64:
        return False
    if other.lower() == name.lower():
        return True
    most = 1 if len(name) < 6 else 2
    if len(set(other) ^ set(name)) > 2 * most:  # each edit changes at most two letters of the set: not a slip
        return False
    before, previous = list[int](), list(range(len(name) + 1))  # edit distance (a swap of two letters is one edit)
    for i, a in enumerate(other, 1):
        row = [i]
        for j, b in enumerate(name, 1):
            row.append(min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a != b)))
            if i > 1 and j > 1 and a == name[j - 2] and other[i - 2] == b:
                row[j] = min(row[j], before[j - 2] + 1)
        before, previous = previous, row
    return previous[-1] <= most


def _defines(source: str, name: str) -> bool:
    return name in source and name in cell_defines(source)


def _text(source) -> str:
    return "".join(map(str, source)) if isinstance(source, list) else str(source or "")


def _parse(path: Path, max_bytes: int):
    name = path.name
    size = path.stat().st_size
    if size > max_bytes:
        raise SubmissionProblem(
            f"{inline_code(name)} is {size / 2**20:.0f} MB, too large to grade (the limit is "
            f"{max_bytes // 2**20} MB). Clear the outputs (Edit > Clear All Outputs) "
            "and upload it again."
        )
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SubmissionProblem(
            f"{inline_code(name)} is not a text file in UTF-8 (byte {exc.start} cannot be read), so "
            "it is not a Jupyter notebook. Download the notebook again from Jupyter or Colab "
            "(File > Download .ipynb) and upload that file."
        ) from None
    try:
        data = load_json(text)
    except json.JSONDecodeError as exc:
        raise SubmissionProblem(
            f"{inline_code(name)} is not a valid notebook: it is not JSON (line {exc.lineno}, column "
            f"{exc.colno}: {exc.msg}). It may have been damaged or edited as text; download it "
            "again from Jupyter or Colab (File > Download .ipynb)."
        ) from None
    except (ValueError, RecursionError, MemoryError):  # nested too deeply, or numbers with thousands of digits
        raise SubmissionProblem(
            f"{inline_code(name)} is not a valid notebook: its JSON is nested too deeply or is too large "
            "to read. Download it again from Jupyter or Colab (File > Download .ipynb)."
        ) from None
    if not (isinstance(data, dict) and "nbformat" in data):
        raise SubmissionProblem(f"{inline_code(name)} is JSON but not a Jupyter notebook (it has no `nbformat` field).")
    import nbformat

    try:
        nb = nbformat.reads(text, as_version=4, capture_validation_error={})
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
        return nb
    except Exception:  # noqa: BLE001  -- nbformat raises many kinds on odd notebooks
        raise SubmissionProblem(
            f"{inline_code(name)} could not be read as a Jupyter notebook (its structure is damaged). "
            "Open it in Jupyter or Colab, check that it shows your work, save it, download it "
            "again (File > Download .ipynb) and upload that file."
        ) from None
