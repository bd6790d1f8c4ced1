"""The tiny assignment's rubric: its probes, checks and lines."""

import numpy as np

from grader.kit import Assignment, CheckFailed, Flag, Line, Probe, Reading, as_array, record

from . import probes, readings


def draw_scale(rng) -> dict:
    return {"inputs": [np.asarray(rng.normal(0, 1, (n,)), dtype=np.float32).astype(np.float64) for n in (3, 11)]}


def draw_w(rng) -> dict:
    return {}


def scale_doubles(sub, line) -> str:
    for x, call in zip(sub.inputs["scale"]["inputs"], record(sub, "scale")["calls"]):
        actual = None if "error" in call else as_array(call["value"])
        if actual is None or actual.shape != x.shape or not np.allclose(actual, 2 * x, atol=line.tolerance):
            raise CheckFailed(f"`scale(x)` does not return `2 * x` for an `x` of {len(x)} values.")
    return "`scale(x)` returns `2 * x`."


def w_trained(sub, line) -> str:
    call = record(sub, "w")["call"]
    value = None if "error" in call else as_array(call["value"])
    if value is None or value.size != 1 or not abs(float(value.reshape(-1)[0]) - 3) < line.tolerance:
        raise CheckFailed(f"`w` is not within {line.tolerance:g} of 3.")
    return "`w` is 3."


def set_by_hand(sub) -> tuple | None:
    lines = sub.assignment.reading(sub.notebook, "w_by_hand")
    return ("reader", lines) if lines else None


ASSIGNMENT = Assignment(
    probes=(
        Probe("scale", ("scale",), "`scale(x)`", draw_scale, probes.scale),
        Probe("w", ("w",), "your trained `w`", draw_w, probes.w),
    ),
    lines=(
        Line("1", "scale(x) doubles x within {tolerance}", 2, scale_doubles, "scale", tolerance=1e-6),
        Line("2", "w is trained to 3 within {tolerance}", 1, w_trained, "w", tolerance=0.01),
    ),
    readings=(
        Reading("w_by_hand", readings.w_by_hand, {"type": "array", "maxItems": 10, "items": {"type": "string"}}),
    ),
    flags=(Flag("w_by_hand", "w set by hand", "`w` is set to a number, not trained; 2 kept its points", set_by_hand),),
    notebook="tiny.ipynb",
)
