"""Call the student's objects on inputs the parent chose, and turn what comes back into plain data (records.Record).

Nothing is compared here: the parent does that with its own reference, so a monkeypatched comparison or a
lying tensor subclass in this process changes nothing. Tensors are read with torch functions disabled.
Each probe is named in grader/rubric.py (PROBES), which gives the order and the inputs.
"""

import difflib

from ..records import MAX_VALUES, Record
from .cells import CellTimeout, describe, leave_if_forked, time_limit

PARAMETERS = ("W1", "B1", "W2", "B2")


class Missing(Exception):
    """The notebook does not define what the probe needs."""


def run_probes(namespace, probes: list, reporter, timeout: float) -> None:
    """probes: [(name, inputs)] in the rubric's order."""
    import torch

    for name, inputs in probes:
        reporter.send({"event": "probe_start", "probe": name})
        try:
            with torch.no_grad(), time_limit(timeout, anywhere=True):
                data = PROBES[name](torch, namespace, inputs)
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
        reporter.send({"event": "record", "probe": name, "data": data})


def forward(torch, ns: dict, inputs: dict) -> Record:
    function = _defined(ns, "forward")
    dtype = _own_dtype(torch, ns.get("W1"))
    _set_globals(torch, ns, {k: inputs[k] for k in PARAMETERS}, dtype)
    return {"calls": [_call(torch, function, torch.tensor(x, dtype=dtype)) for x in inputs["inputs"]]}


def backprop(torch, ns: dict, inputs: dict) -> Record:
    function = _defined(ns, "backprop")
    _set_globals(torch, ns, {k: inputs[k] for k in (*PARAMETERS, "X", "Y")}, _own_dtype(torch, ns.get("W1")))
    return {"call": _call(torch, function, ns["X"], watch_autograd=True)}


def toymodel(torch, ns: dict, inputs: dict) -> Record:
    cls = _defined(ns, "ToyModel")
    torch.manual_seed(inputs["seed"])
    try:
        module = cls()
    except Exception as exc:  # noqa: BLE001
        return {"error": describe(exc)}
    return {"object": _module_data(torch, module, torch.tensor(inputs["x"], dtype=_own_dtype(torch, module)))}


def model(torch, ns: dict, inputs: dict) -> Record:
    module = _defined(ns, "model")
    data = _module_data(torch, module, torch.tensor(inputs["x"], dtype=_own_dtype(torch, module)))
    if data["module"]["is_module"]:
        data["facts"] = {"updated": _updated(torch, module), "toy_data": _toy_data(torch, ns, inputs["x"])}
    return {"object": data}


def _updated(torch, module) -> bool | None:
    """Were the model's parameters changed in place since it was created (an optimizer's step, a copy_)? Each
    in-place change counts in a tensor's version; a new model of the same class gives the versions at creation.
    None when that cannot be told (the class needs arguments, parameters were replaced)."""
    try:
        fresh = [p._version for p in type(module)().parameters()]
        own = [p._version for p in module.parameters()]
    except Exception:  # noqa: BLE001
        return None
    if len(own) != len(fresh) or any(v < f for v, f in zip(own, fresh)):
        return None
    return own != fresh


def _toy_data(torch, ns, toy_x) -> bool | None:
    """Is the notebook's final `X` the toy data (`torch.manual_seed(0); X, Y = generate_data(20)`)?"""
    x = ns.get("X")
    if not isinstance(x, torch.Tensor):
        return None
    try:
        return bool(x.shape == (len(toy_x), 3) and torch.allclose(x.double(), torch.tensor(toy_x).double()))
    except Exception:  # noqa: BLE001
        return None


PROBES = {"model": model, "toymodel": toymodel, "forward": forward, "backprop": backprop}


def _defined(ns, name):
    if name not in ns:
        similar = difflib.get_close_matches(name, [str(k) for k in list(ns)[:10_000] if not str(k).startswith("_")])
        similar += [str(k) for k in list(ns)[:10_000] if str(k).lower().startswith(name.lower()) and k not in similar]
        raise Missing(f"{name}: {', '.join(similar[:3])}")
    return ns[name]


def _set_globals(torch, ns, values, dtype) -> None:
    for name, value in values.items():
        ns[name] = torch.tensor(value, dtype=dtype)


def _own_dtype(torch, value):
    """The floating dtype the notebook chose (its own `W1`, or a model's first parameter), else float32: a notebook
    switched to float64, as the handout suggests, is called with float64 inputs, as it would call itself."""
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


def _call(torch, function, *args, watch_autograd=False):
    ran = []
    engine = torch.autograd._engine_run_backward  # backward() and autograd.grad() both go through it

    def watched(*a, **k):
        ran.append(True)
        return engine(*a, **k)

    if watch_autograd:
        torch.autograd._engine_run_backward = watched
    try:
        result = {"value": _plain(torch, function(*args))}
    except Exception as exc:  # noqa: BLE001
        result = {"error": describe(exc)}
    finally:
        torch.autograd._engine_run_backward = engine
    if watch_autograd:
        result["autograd"] = bool(ran)
    return result


def _plain(torch, value, depth=0):
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


def _module_data(torch, module, x):
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
    return {"module": data, "call": _call(torch, module, x)}


def _bounded(n) -> int:
    return max(min(int(n), 2**31), -(2**31))
