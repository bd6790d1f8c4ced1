"""Read a notebook with nbformat and turn its code cells into plain Python, the way IPython would."""
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .locate import SubmissionProblem

MAX_NOTEBOOK_BYTES = 100 * 1024 * 1024   # reading 50 MB takes ~170 MB; Gradescope gives 768 MB in all
# Magics whose code the grader runs; every other magic and shell line is skipped.
RUN_MAGICS = {"time", "timeit", "capture", "prun", "pinfo"}
_MAGIC_LINE = re.compile(r"^\s*(%%?)([A-Za-z_]\w*)|^\s*(?:\w+\s*=\s*)?(!)")
_ANSWER_MARK = re.compile(r"\**\banswer\b\**\s*:\**", re.IGNORECASE)  # Answer:  **Answer:**  **Answer**:
_SAVED_LOSS = re.compile(r"tensor\(\s*([-+0-9.eE]+|nan|inf)")


@dataclass
class CodeCell:
    number: int  # 1-based among code cells: what Jupyter shows after Restart & Run All
    source: str  # as the student wrote it
    python: str  # after IPython's transformation of magics and shell lines


@dataclass
class Notebook:
    cells: list
    exercise3_answer: str | None  # None: the question was not found
    saved_exercise5_loss: float | None  # what the student's own run printed, if saved
    notes: list = field(default_factory=list)


def read_notebook(path: Path) -> Notebook:
    nb = _parse(Path(path))
    code_cells, notes = [], []
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        source = _text(cell.get("source", ""))
        number = len(code_cells) + 1
        try:
            python = _ipython2python(source)
        except Exception as exc:  # IPython could not parse it: the child reports the SyntaxError
            python = source
            notes.append(f"Cell {number}: IPython could not read this cell ({type(exc).__name__}).")
        notes.extend(_magic_notes(number, source))
        code_cells.append(CodeCell(number, source, python))
    return Notebook(code_cells, _exercise3_answer(nb.cells), _saved_loss(nb.cells), notes)


def _ipython2python(source: str) -> str:
    """Exactly what nbconvert's `ipython2python` filter does, without importing nbconvert (0.25 s, ~300 modules).

    IPython and nbformat are imported only when a notebook is read, not at start-up: the sandboxed child, whose
    `import torch` is the critical path, is started first, and the parent's parsing overlaps that import."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return source
    return TransformerManager().transform_cell(source)


def _parse(path: Path):
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise SubmissionProblem(f"`{path.name}` is {size / 2**20:.0f} MB, too large to grade (the limit is "
                                f"{MAX_NOTEBOOK_BYTES // 2**20} MB). Clear the outputs (Edit > Clear All Outputs) "
                                "and upload it again.")
    try:
        text = path.read_bytes().decode("utf-8-sig")   # the bytes are freed at once: notebooks can be big
    except UnicodeDecodeError as exc:
        raise SubmissionProblem(f"`{path.name}` is not a text file in UTF-8 (byte {exc.start} cannot be read), so "
                                "it is not a Jupyter notebook. Download the notebook again from Jupyter or Colab "
                                "(File > Download .ipynb) and upload that file.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionProblem(f"`{path.name}` is not a valid notebook: it is not JSON (line {exc.lineno}, column "
                                f"{exc.colno}: {exc.msg}). It may have been damaged or edited as text; download it "
                                "again from Jupyter or Colab (File > Download .ipynb).") from None
    except (ValueError, RecursionError):   # JSON too deeply nested, or a number with thousands of digits
        raise SubmissionProblem(f"`{path.name}` is not a valid notebook: its JSON is nested too deeply or holds "
                                "numbers with thousands of digits. Download it again from Jupyter or Colab "
                                "(File > Download .ipynb).") from None
    is_notebook = isinstance(data, dict) and "nbformat" in data
    del data   # nbformat parses the text again; not holding two copies keeps a 50 MB notebook's memory down
    if not is_notebook:
        raise SubmissionProblem(f"`{path.name}` is JSON but not a Jupyter notebook (it has no `nbformat` field).")
    import nbformat
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as exc:
        raise SubmissionProblem(f"`{path.name}` could not be read as a notebook ({type(exc).__name__}: {exc}).") \
            from None


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def _magic_notes(number: int, source: str):
    for line in source.splitlines():
        match = _MAGIC_LINE.match(line)
        if not match:
            continue
        if match.group(3):
            yield f"Cell {number}: shell command `{line.strip()[:60]}` was skipped."
        elif match.group(2) not in RUN_MAGICS:
            yield f"Cell {number}: magic `{match.group(1)}{match.group(2)}` was skipped."


def _exercise3_answer(cells):
    """The text after "Answer:" in the markdown that follows the Exercise 3 question, up to the next code cell."""
    start = next((i for i, c in enumerate(cells) if c.get("cell_type") == "markdown"
                  and "could loss ever increase" in _text(c.get("source", "")).lower()), None)
    if start is None:
        return None
    parts = []
    for cell in cells[start:]:
        if cell.get("cell_type") == "code" or (parts and _text(cell.get("source", "")).lstrip().startswith("#")):
            break
        parts.append(_text(cell.get("source", "")))
    text = "\n\n".join(parts)
    marks = list(_ANSWER_MARK.finditer(text))
    answer = text[marks[0].end():] if marks else "\n\n".join(parts[1:])
    return answer.strip()


def _saved_loss(cells):
    for cell in cells:
        if cell.get("cell_type") == "code" and "Exercise 5: Don't modify" in _text(cell.get("source", "")):
            for output in cell.get("outputs", []):
                plain = _text(output.get("data", {}).get("text/plain", "")) or _text(output.get("text", ""))
                match = _SAVED_LOSS.search(plain)
                if match:
                    try:
                        return float(match.group(1))
                    except ValueError:
                        return None
    return None
