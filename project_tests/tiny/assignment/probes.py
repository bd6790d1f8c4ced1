"""The tiny assignment's probes, run in the child with the engine's helpers."""

from grader.child.probes import call, defined


def scale(torch, ns: dict, inputs: dict) -> dict:
    function = defined(ns, "scale")
    return {"calls": [call(torch, function, torch.tensor(x, dtype=torch.float32)) for x in inputs["inputs"]]}


def w(torch, ns: dict, inputs: dict) -> dict:
    value = defined(ns, "w")
    return {"call": call(torch, lambda: value)}
