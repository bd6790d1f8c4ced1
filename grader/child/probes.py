"""Call the student's objects on inputs the parent chose, and turn what comes back into plain data (records.Record).

Nothing is compared here: the parent does that with its own reference, so a monkeypatched comparison or a
lying tensor subclass in this process changes nothing. Tensors are read with torch functions disabled.
The probes are the assignment's (grader/assignment.py Probe.call), in its order, called with these helpers.
"""

import difflib
import sys

from ..records import MAX_VALUES, PROBE_START, RECORD
from .clock import CellTimeout, time_limit
from .errors import describe, leave_if_forked


class Missing(Exception):
    """The notebook does not define what the probe needs."""


def run_probes(namespace, probes: list, calls: dict, reporter, timeout: float) -> None:
    """probes: [(name, inputs)] in the rubric's order; calls: {name: Probe.call}."""
    import torch

    for name, inputs in probes:
        reporter.send(PROBE_START, probe=name)
        try:
            with torch.no_grad(), time_limit(timeout, anywhere=True):
                data = calls[name](torch, namespace, inputs)
        except Missing as exc:
            data = {"missing": str(exc)[:500]}
        except CellTimeout:
            data = {
                "error": {
                    "type": "Timeout",
                    "message": f"the call did not finish within {timeout:.0f} s",
                    "cell": None,
                    "line": None,
                }
            }
        except BaseException as exc:  # noqa: BLE001
            data = {"error": describe(exc)}
        leave_if_forked()
        reporter.send(RECORD, probe=name, data=data)


def defined(ns, name):
    if name not in ns:
        similar = difflib.get_close_matches(name, [str(k) for k in list(ns)[:10_000] if not str(k).startswith("_")])
        similar += [str(k) for k in list(ns)[:10_000] if str(k).lower().startswith(name.lower()) and k not in similar]
        raise Missing(f"{name}: {', '.join(similar[:3])}")
    return ns[name]


def set_globals(torch, ns, values, dtype) -> None:
    for name, value in values.items():
        ns[name] = torch.tensor(value, dtype=dtype)


def own_dtype(torch, value):
    """The floating dtype the notebook chose (a tensor of its own the probe names, or a model's first parameter),
    else float32: a notebook switched to float64 is called with float64 inputs, as it would call itself."""
    try:
        if isinstance(value, torch.nn.Module):
            value = next((p for p in value.parameters() if p.is_floating_point()), None)
        if isinstance(value, torch.Tensor) and value.dtype in (
            torch.float64,
            torch.float32,
            torch.float16,
            torch.bfloat16,
        ):
            return value.dtype
    except Exception:  # noqa: BLE001  -- a hostile module's parameters() may raise
        pass
    return torch.float32


def call(torch, function, *args):
    try:
        return {"value": _plain(torch, function(*args))}
    except Exception as exc:  # noqa: BLE001
        return {"error": describe(exc)}


def _plain(torch, value, depth=0):
    numpy = sys.modules.get("numpy")  # a NumPy array or number crosses as a tensor does (its own dtype named)
    if numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic)):
        array = numpy.ndarray.view(numpy.asarray(value), numpy.ndarray)  # no subclass's own methods are called
        if array.dtype.kind in "biuf" and array.ndim <= 8:
            return {"tensor": _array(numpy, array)}
        return {"other": f"numpy array of {str(array.dtype)[:50]}" if array.ndim <= 8 else "numpy array"}
    if isinstance(value, torch.Tensor) and value.dim() > 8:
        return {"other": f"tensor with {value.dim()} dimensions"}
    if isinstance(value, torch.Tensor):
        return {"tensor": _tensor(torch, value)}
    if isinstance(value, (tuple, list)) and depth == 0:
        return {"sequence": [_plain(torch, item, 1) for item in list(value)[:16]]}
    return {"other": type(value).__name__[:200]}


def _tensor(torch, value):
    with torch._C.DisableTorchFunction():  # a Tensor subclass's __torch_function__ is not consulted
        plain = torch.Tensor.as_subclass(value, torch.Tensor).detach()
        shape = [min(int(n), 2**31) for n in plain.shape][:8]
        values = None
        if plain.numel() <= MAX_VALUES:
            values = [float(v) for v in plain.to(torch.float64).reshape(-1).tolist()]
        return {"shape": shape, "dtype": str(plain.dtype)[:100], "values": values}


def _array(numpy, array):
    shape = [min(int(n), 2**31) for n in array.shape]
    values = None
    if array.size <= MAX_VALUES:
        values = [float(v) for v in numpy.asarray(array, dtype=numpy.float64).reshape(-1).tolist()]
    return {"shape": shape, "dtype": f"numpy.{str(array.dtype)[:50]}", "values": values}


def module_data(torch, module, x):
    if not isinstance(module, torch.nn.Module):
        return {
            "module": {"is_module": False, "class_name": type(module).__name__[:200], "linears": [], "n_params": 0},
            "call": {"error": {"type": "TypeError", "message": "not an nn.Module", "cell": None, "line": None}},
        }
    linears = [m for m in module.modules() if type(m) is torch.nn.Linear][:64]
    data = {
        "is_module": True,
        "class_name": type(module).__name__[:200],
        "n_params": min(int(sum(p.numel() for p in module.parameters())), 2**31),
        "linears": [
            {
                "in_features": _bounded(m.in_features),
                "out_features": _bounded(m.out_features),
                "weight": _tensor(torch, m.weight),
                "bias": None if m.bias is None else _tensor(torch, m.bias),
            }
            for m in linears
        ],
    }
    return {"module": data, "call": call(torch, module, x)}


def _bounded(n) -> int:
    return max(min(int(n), 2**31), -(2**31))
