"""The authoring kit: the names an assignment's rubric imports (docs/authoring.md).

Declarations: Assignment, Probe, Line, Reading, Flag. A check is `def check(sub: Submission, line: Line) -> str`: it
returns what it verified, or raises CheckFailed with what is wrong, both in words for the student (Markdown; anything
quoted from the notebook goes through `inline_code`/`code_block`). The helpers below read a probe's record (`record`,
`value`) and compare it with what the parent computes itself, in the spirit of PrairieLearn's
`check_numpy_array_allclose`: they return the value as a NumPy array or raise CheckFailed in plain words.

The probes (what the child calls) do not import this module: they run beside student code and use the child's helpers
in grader/child/probes.py (`defined`, `call`, `module_data`, ...), so the rubric, its checks and its reference never
enter that process.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from .assignment import Assignment, AuthoringError, Flag, Line, Probe, Reading
from .markdown import code_block, inline_code
from .scoring.feedback import CheckFailed, error_text, record
from .scoring.submission import Submission
from .scoring.testcase import CheckCase, line_cases, rubric_line

__all__ = [
    "Assignment",
    "AuthoringError",
    "CheckCase",
    "CheckFailed",
    "Flag",
    "Line",
    "Probe",
    "Reading",
    "Submission",
    "as_array",
    "check_allclose",
    "check_shape",
    "code_block",
    "describe_value",
    "error_text",
    "inline_code",
    "largest_difference",
    "line_cases",
    "number_text",
    "record",
    "rubric_line",
    "same_cause_as",
    "shape_text",
    "value",
]


def describe_value(value: dict) -> str:
    if "tensor" in value:
        return f"a tensor of shape {shape_text(value['tensor']['shape'])}"
    if "sequence" in value:
        return f"a tuple/list of {len(value['sequence'])} values"
    kind = value.get("other", "")
    if kind == "NoneType":
        return "`None` (is a `return` missing?)"
    if kind.startswith("tensor with ") and kind.endswith(" dimensions"):  # the child's own words, checked
        return f"a {inline_code(kind)}"
    return f"a {inline_code(kind)}, not a tensor"


def as_array(value: dict) -> np.ndarray | None:
    """The tensor in a reported value as a NumPy array, or None if it is not a consistent, small enough tensor."""
    tensor = value.get("tensor")
    if not tensor or tensor.get("values") is None:
        return None
    shape = [int(n) for n in tensor["shape"]]
    if any(n > 10**6 for n in shape) or len(tensor["values"]) != int(np.prod(shape, dtype=object)):
        return None  # inconsistent data (the child's channel is not trusted)
    return np.array(tensor["values"], dtype=np.float64).reshape(shape)


def shape_text(shape) -> str:
    return "(" + ", ".join(str(int(n)) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def largest_difference(actual, expected) -> float:
    if not np.all(np.isfinite(actual)):
        return float("inf")
    return float(np.abs(actual - expected).max(initial=0.0))


def number_text(x: float) -> str:
    return "NaN/inf" if not np.isfinite(x) else f"{x:.3g}"


def value(sub: Submission, probe: str) -> dict:
    """The value the probe's one call returned (records.Value: `{"tensor": ...}`, `{"sequence": [...]}`,
    `{"other": type name}`), or CheckFailed saying why there is none (not defined, raised, the run stopped)."""
    data = record(sub, probe)
    call = data.get("call")
    if call is None:
        raise CheckFailed(f"The grader could not check {sub.assignment.probe[probe].called}.")
    if "error" in call:
        raise CheckFailed(f"Calling {sub.assignment.probe[probe].called} raised {error_text(sub, call['error'])}")
    return call["value"]


def check_shape(found, shape, name: str) -> np.ndarray:
    """`found` (a reported value, or an array) as an array of `shape`; else CheckFailed: "`name` is <what it is>;
    expected an array of shape <shape>." A dimension given as None matches any length."""
    array = as_array(found) if isinstance(found, dict) else found
    described = describe_value(found) if isinstance(found, dict) else "not an array"
    if isinstance(array, np.ndarray):
        described = f"an array of shape {shape_text(array.shape)}"
        if array.ndim == len(shape) and all(want is None or want == n for n, want in zip(array.shape, shape)):
            return array
    sizes = ["N" if n is None else str(int(n)) for n in shape]
    expected = "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"
    raise CheckFailed(f"{inline_code(name)} is {described}; expected an array of shape {expected}.")


def check_allclose(found, expected, tolerance: float, name: str) -> np.ndarray:
    """`found` as an array of `expected`'s shape, every value within `tolerance` of `expected`'s; else CheckFailed
    naming the shape, or the largest difference and where it is."""
    expected = np.asarray(expected, dtype=np.float64)
    array = check_shape(found, expected.shape, name)
    difference = largest_difference(array, expected)
    if not difference <= tolerance:
        if not np.all(np.isfinite(array)):
            raise CheckFailed(f"{inline_code(name)} holds NaN or infinite values.")
        where = np.unravel_index(int(np.abs(array - expected).argmax()), array.shape) if array.size else ()
        at = f" (at index {shape_text(where)})" if array.ndim else ""
        raise CheckFailed(
            f"{inline_code(name)} differs from the expected values by up to {number_text(difference)}{at}; "
            f"at most {tolerance:g} is allowed."
        )
    return array


@contextmanager
def same_cause_as(number: str) -> Iterator[None]:
    """A dependent line points at the one that explains the cause instead of repeating it (tracebacks included)."""
    try:
        yield
    except CheckFailed as failure:
        headline = str(failure).split("\n\n", 1)[0]
        raise CheckFailed(f"Same cause as test {number}: {headline}") from None
