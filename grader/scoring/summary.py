"""The top-level message of results.json (which notebook was graded, how its run went) and its extra_data facts."""

from ..markdown import inline_code, with_code
from ..secret import secret_id
from ..version import grader_version
from .feedback import channel_problem, ending, exit_words, missing_package, out_of_memory, same_cause
from .submission import Submission

INTENDED = "# ValueError"  # the first line of the handout's cell that raises a ValueError on purpose


def summary(sub: Submission) -> str:
    lines = []
    notebook = sub.notebook
    if notebook:
        lines.append(f"**Notebook:** {notebook['reason']}")
    notes = list(dict.fromkeys(sub.notes))
    if sub.problem:
        lines.append(f"**Your submission could not be graded:** {sub.problem}")
        lines += [f"- {note}" for note in notes]
        return "\n\n".join(lines)
    lines.append(
        "Your notebook was run from a fresh start, top to bottom (like Kernel > Restart & Run All); "
        "a cell that fails does not stop the run. Cell numbers count code cells from the top."
    )
    lines.append(f"**Run:** {ending(sub)} ({sub.run.seconds if sub.run else 0:.1f} s)")
    failed = [_cell_line(sub, end) for _, end in sorted(sub.report.cells.items())]
    if failed:
        more = f"\n- ... and {len(failed) - 60} more cells" if len(failed) > 60 else ""
        lines.append("**Cells that did not finish normally:**\n\n" + "\n".join(failed[:60]) + more)
    notes += [n for n in (notebook or {}).get("notes", [])]
    notes += [
        f"Cell {n['cell']}: {with_code(n['text'])}" if n.get("cell") else with_code(n["text"]) for n in sub.report.notes
    ]
    notes += [channel_problem(p) for p in sub.report.problems]
    if notes:
        lines.append("**Notes:**\n\n" + "\n".join(f"- {note}" for note in notes[:30]))
    return "\n\n".join(lines)


def facts(sub: Submission) -> dict:
    """The same, as data for the TA tools (results.json's extra_data; `make batch` reads it)."""
    notebook = sub.notebook or {}
    failed = sorted(sub.report.cells)
    statuses = {end["status"] for end in sub.report.cells.values()}
    errors = [end.get("error", {}) for end in sub.report.cells.values()]
    # flag -> who saw it: "parent" (the grader itself), "reader" (the notebook's text), "runner"
    seen_by: dict[str, str] = {}

    def flag(code: str, who: str) -> None:
        seen_by.setdefault(code, who)

    evidence = {}  # flag -> the notebook's lines it rests on
    for raised in sub.assignment.flags:  # the assignment's own (Assignment.flags)
        found = raised.raised(sub) if notebook else None
        if found:
            flag(raised.code, found[0])
            evidence[raised.code] = found[1]
    if notebook.get("grader_evidence"):
        flag("reaches_into_grader", "reader")
        evidence["reaches_into_grader"] = notebook["grader_evidence"]
    unended = [problem[1] for problem in sub.report.problems if problem[0] == "unended"]
    if unended:  # the runner reports every cell: the notebook changed the grader's reporting (channel.py _unended)
        flag("reaches_into_grader", "parent")
        evidence["reaches_into_grader"] = evidence.get("reaches_into_grader", []) + [
            f"cell {cell}: the notebook's process did not report how it ended" for cell in unended
        ]
    if sub.run and sub.run.stopped == "watchdog":
        flag("cell_timeout", "parent")
    if sub.report.overdue:
        flag("cell_timeout", "parent")  # its own clock (channel.py ChildReport.overdue)
        evidence["cell_timeout"] = [f"cell {n}: {s:.0f} s" for n, s in sorted(sub.report.overdue.items())]
    if "timeout" in statuses:
        flag("cell_timeout", "runner")
    if sub.run and sub.run.stopped == "run_timeout":
        flag("run_timeout", "parent")
    if sub.memory_killed:
        flag("memory_limit", "parent")
    if any(out_of_memory(e) for e in errors):
        flag("memory_limit", "runner")
    if sub.problem or not notebook:
        flag("not_graded", "reader" if sub.reading_report.ungradable else "parent")
    flags = list(seen_by)
    return {
        "grader_version": grader_version(sub.settings.assignment),
        "secret": secret_id(),  # the secret's fingerprint: a batch tells a changed secret from changed code
        "notebook": notebook.get("path"),
        "problem": sub.problem,
        "ending": ending(sub),
        "finished": bool(sub.run and sub.run.finished),
        "seconds": round(sub.run.seconds, 2) if sub.run else 0.0,
        "failed_cells": failed[:1000],
        "first_failing_cell": next((n for n in failed if not _intended(sub.report.cells[n])), None),
        "flags": flags,
        "flag_sources": seen_by,
        "evidence": {code: [str(line)[:500] for line in lines[:20]] for code, lines in evidence.items() if lines},
        "failed_cells_reported_by": "runner",  # the notebook's own process: its report, not the grader's finding
        "not_in_force": _not_in_force(sub),
        "in_force": _not_in_force(sub, "in_force"),
        "code_hash": notebook.get("code_hash"),
        "limits": {  # the limits this grading used (the report's flag details)
            "cell_timeout": sub.settings.cell_timeout,
            "total_timeout": sub.settings.total_timeout,
            "memory_mb": sub.memory_mb,
        },
        "by_hand": {  # the answer the staff grade by hand (Assignment.by_hand), for answers.html and the terminal
            "test": sub.assignment.by_hand,
            "answer": sub.assignment.answer(sub) if sub.assignment.answer and notebook else None,
            "images": sorted(n for n in sub.reading_report.ta_files if n.startswith("answer-")),
        },
    }


def _cell_line(sub: Submission, end: dict) -> str:
    number = end["cell"]
    first = end.get("first_line", "")
    if end["status"] == "exit":
        verb, advice = exit_words(end)
        what = f"{verb}; the rest of that cell was skipped{advice}"
    else:
        error = end.get("error", {})
        what = inline_code(f"{error.get('type')}: {' '.join(error.get('message', '').split())[:200]}")
        if error.get("cell") not in (None, number):
            what += f" (in cell {error['cell']}, line {error['line']})"
        elif error.get("line"):
            what += f" (line {error['line']})"
        if _intended(end):
            what += " (expected: this cell raises on purpose)"
        cause = same_cause(sub, end)
        if cause is not None:
            what += f": same cause as cell {cause}"
        elif error.get("type") == "ModuleNotFoundError":
            words = missing_package(sub, error.get("message", ""))
            what += f". {words}" if words else ""
    return f"- cell {number} ({inline_code(first)}): {what}"


def _intended(end: dict) -> bool:
    return end.get("first_line", "").startswith(INTENDED) and end.get("error", {}).get("type") == "ValueError"


def _not_in_force(sub: Submission, key: str = "not_in_force") -> list:
    """The protections the child could not apply here, or (`key` "in_force") the layers it did (from its ready
    event, sent before any student code ran)."""
    missing = (sub.report.isolation or {}).get(key, [])
    return [str(m)[:100] for m in missing[:20]] if isinstance(missing, list) else []
