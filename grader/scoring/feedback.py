"""Turning what the child reported into sentences a student can act on (Markdown)."""
import re

import numpy as np

from ..sandbox.channel import CALLED
from . import session

NAME_OF = {"forward": "forward", "backprop": "backprop", "toymodel": "ToyModel", "model": "model"}
DEFINED_BY = {"forward": r"^def\s+forward\s*\(", "backprop": r"^def\s+backprop\s*\(",
              "ToyModel": r"^class\s+ToyModel\b", "model": r"^model\s*="}   # top-level definitions only


class CheckFailed(Exception):
    """The check failed or could not look at the work; the message says why, for the student."""


def record(check: str) -> dict:
    """The child's data for `check`, or CheckFailed with the reason in the student's terms."""
    what = CALLED[check]
    current = session.current()
    if current.problem:
        raise CheckFailed(current.problem)
    report = current.run.report
    data = report.records.get(check)
    if data is None:
        extra = "".join(f"\n\n{p}" for p in report.problems)
        raise CheckFailed(f"{current.run.ending} The grader could not check {what}.{extra}")
    if "missing" in data:   # the message is the parent's own: the child's text is not shown
        name = NAME_OF[check]
        raise CheckFailed(f"`{name}` is not defined when the notebook has finished running."
                          + defining_cell_hint(name))
    if "error" in data:
        raise CheckFailed(f"Calling {what} raised {error_text(data['error'])}")
    return data


def error_text(error: dict) -> str:
    where = ""
    if error.get("cell"):
        where = f" (cell {error['cell']}" + (f", line {error['line']})" if error.get("line") else ")")
    text = f"`{error['type']}: {_one_line(error['message'])}`{where}."
    if error.get("traceback"):
        text += "\n\n```\n" + error["traceback"].rstrip()[-3000:] + "\n```"
    return text


def defining_cell_hint(name: str) -> str:
    current = session.current()
    pattern = re.compile(DEFINED_BY.get(name, rf"\b{name}\b"), re.MULTILINE)
    for cell in reversed(current.notebook.cells):
        if pattern.search(cell.source):
            end = current.run.report.cells.get(cell.number)
            if end and end.get("error"):
                return f"\n\nCell {cell.number}, which defines `{name}`, raised {error_text(end['error'])}"
            if end is None:
                return f"\n\nCell {cell.number}, which defines `{name}`, did not run."
            return ""
    return f"\n\nNo cell of the notebook defines `{name}`."


def describe_value(value: dict) -> str:
    if "tensor" in value:
        return f"a tensor of shape {shape_text(value['tensor']['shape'])}"
    if "sequence" in value:
        return f"a tuple/list of {len(value['sequence'])} values"
    kind = value["other"]
    return "`None` (is a `return` missing?)" if kind == "NoneType" else f"a `{kind}`, not a tensor"


def as_array(value: dict):
    """The tensor in a reported value as a NumPy array, or None if it is not a (small enough) tensor."""
    tensor = value.get("tensor")
    if not tensor or tensor["values"] is None:
        return None
    shape = [int(n) for n in tensor["shape"]]
    if len(tensor["values"]) != int(np.prod(shape)):
        return None   # inconsistent data (the child's channel is not trusted)
    return np.array(tensor["values"], dtype=np.float64).reshape(shape)


def shape_text(shape) -> str:
    return "(" + ", ".join(str(int(n)) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def largest_difference(actual, expected) -> float:
    difference = np.abs(actual - expected)
    return float("inf") if not np.all(np.isfinite(actual)) else float(difference.max(initial=0.0))


def number_text(x: float) -> str:
    return "NaN/inf" if not np.isfinite(x) else f"{x:.3g}"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
