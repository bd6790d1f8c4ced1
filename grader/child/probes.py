"""Call the student's objects on inputs the grader chose, and turn what comes back into plain data.

Nothing is compared here: the parent does that with its own reference, so a monkeypatched comparison or a
lying tensor subclass in this process changes nothing. Tensors are read with torch functions disabled.
"""
from .cells import CellTimeout, describe, leave_if_forked, time_limit

MAX_VALUES = 100_000
PARAMETERS = ("W1", "B1", "W2", "B2")


class Missing(Exception):
    """The notebook does not define what the check needs."""


def run_probes(namespace, probes, reporter, timeout):
    import torch
    checks = {"model": _model, "toymodel": _toymodel, "forward": _forward, "backprop": _backprop}
    for name, probe in checks.items():   # `model` first: the others overwrite notebook globals
        reporter.send({"event": "check_start", "check": name})
        try:
            with torch.no_grad(), time_limit(timeout):
                data = probe(torch, namespace, probes[name])
        except Missing as exc:
            data = {"missing": str(exc)}
        except CellTimeout:
            data = {"error": {"type": "Timeout", "message": f"the call did not finish within {timeout:.0f} s",
                              "cell": None, "line": None}}
        except BaseException as exc:   # noqa: BLE001
            data = {"error": describe(exc)}
        leave_if_forked()
        reporter.send({"event": "record", "check": name, "data": data})


def _forward(torch, ns, spec):
    function = _defined(ns, "forward")
    _set_globals(torch, ns, {k: spec[k] for k in PARAMETERS})
    return {"calls": [_call(torch, function, torch.tensor(x)) for x in spec["inputs"]]}


def _backprop(torch, ns, spec):
    function = _defined(ns, "backprop")
    _set_globals(torch, ns, {k: spec[k] for k in (*PARAMETERS, "X", "Y")})
    return {"call": _call(torch, function, ns["X"])}


def _toymodel(torch, ns, spec):
    cls = _defined(ns, "ToyModel")
    torch.manual_seed(spec["seed"])
    try:
        module = cls()
    except Exception as exc:   # noqa: BLE001
        return {"error": describe(exc)}
    return {"object": _module_data(torch, module, torch.tensor(spec["x"]))}


def _model(torch, ns, spec):
    model = _defined(ns, "model")
    return {"object": _module_data(torch, model, torch.tensor(spec["x"]))}


def _defined(ns, name):
    if name not in ns:
        raise Missing(f"`{name}` is not defined when the notebook has finished running.")
    return ns[name]


def _set_globals(torch, ns, values):
    for name, value in values.items():
        ns[name] = torch.tensor(value, dtype=torch.float32)


def _call(torch, function, *args):
    try:
        return {"value": _plain(torch, function(*args))}
    except Exception as exc:   # noqa: BLE001
        return {"error": describe(exc)}


def _plain(torch, value, depth=0):
    if isinstance(value, torch.Tensor):
        return {"tensor": _tensor(torch, value)}
    if isinstance(value, (tuple, list)) and depth == 0:
        return {"sequence": [_plain(torch, item, 1) for item in list(value)[:16]]}
    return {"other": type(value).__name__}


def _tensor(torch, value):
    with torch._C.DisableTorchFunction():   # a Tensor subclass's __torch_function__ is not consulted
        plain = torch.Tensor.as_subclass(value, torch.Tensor).detach()
        shape = [int(n) for n in plain.shape]
        values = None
        if plain.numel() <= MAX_VALUES:
            values = [float(v) for v in plain.to(torch.float64).reshape(-1).tolist()]
        return {"shape": shape, "dtype": str(plain.dtype), "values": values}


def _module_data(torch, module, x):
    if not isinstance(module, torch.nn.Module):
        return {"module": {"is_module": False, "class": type(module).__name__, "linears": [], "n_params": 0},
                "call": {"error": {"type": "TypeError", "message": "not an nn.Module", "cell": None, "line": None}}}
    linears = [m for m in module.modules() if type(m) is torch.nn.Linear][:64]
    data = {"is_module": True, "class": type(module).__name__,
            "n_params": int(sum(p.numel() for p in module.parameters())),
            "linears": [{"in": int(m.in_features), "out": int(m.out_features), "weight": _tensor(torch, m.weight),
                         "bias": None if m.bias is None else _tensor(torch, m.bias)} for m in linears]}
    return {"module": data, "call": _call(torch, module, x)}
