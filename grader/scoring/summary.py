"""The top-level message of results.json: which notebook was graded and how its run went."""
from . import session

INTENDED_ERROR = "ValueError: tensors cannot have different lengths"


def summary() -> str:
    current = session.current()
    lines = []
    if current.located:
        lines.append(f"**Notebook:** {current.located.reason}")
        lines += [f"- {note}" for note in current.located.notes]
    if current.problem:
        lines.append(f"**Your submission could not be graded:** {current.problem}")
        return "\n\n".join(lines)
    run, notebook = current.run, current.notebook
    lines.append("Your notebook was run from a fresh start, top to bottom (like Kernel > Restart & Run All); "
                 "a cell that fails does not stop the run. Cell numbers count code cells from the top.")
    lines.append(f"**Run:** {run.ending} ({run.seconds:.1f} s)")
    failed = [_cell_line(notebook, end) for number, end in sorted(run.report.cells.items()) if end["status"] != "ok"]
    if failed:
        lines.append("**Cells that did not finish normally:**\n\n" + "\n".join(failed))
    notes = notebook.notes + run.report.problems
    if notes:
        lines.append("**Notes:**\n\n" + "\n".join(f"- {note}" for note in notes[:30]))
    return "\n\n".join(lines)


def facts() -> dict:
    """The same, as data for TA tools (results.json's extra_data; `make batch` reads it)."""
    current = session.current()
    facts = {"notebook": str(current.located.path.name) if current.located else None, "problem": current.problem}
    if current.run:
        facts.update(ending=current.run.ending, finished=current.run.finished, seconds=round(current.run.seconds, 2),
                     failed_cells=sorted(n for n, end in current.run.report.cells.items() if end["status"] != "ok"))
    return facts


def _cell_line(notebook, end) -> str:
    number = end["cell"]
    source = next((c.source for c in notebook.cells if c.number == number), "")
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")[:60]
    if end["status"] == "exit":
        what = "called `exit()`; the rest of that cell was skipped"
    else:
        error = end.get("error", {})
        what = f"`{error.get('type')}: {' '.join(error.get('message', '').split())[:200]}`"
        if error.get("cell") not in (None, number):
            what += f" (in cell {error['cell']}, line {error['line']})"
        elif error.get("line"):
            what += f" (line {error['line']})"
    expected = " (expected: this cell raises on purpose)" if INTENDED_ERROR in source else ""
    return f"- cell {number} (`{first}`): {what}{expected}"
