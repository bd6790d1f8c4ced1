"""A0's probes, run in the child after the notebook's last cell: each calls the notebook's object on the parent's
inputs and returns plain data (records.Record), with the engine's helpers (grader/child/probes.py)."""

from grader.child.cells import describe
from grader.child.probes import call, defined, module_data, own_dtype, set_globals
from grader.records import Record

PARAMETERS = ("W1", "B1", "W2", "B2")


def forward(torch, ns: dict, inputs: dict) -> Record:
    function = defined(ns, "forward")
    dtype = own_dtype(torch, ns.get("W1"))
    set_globals(torch, ns, {k: inputs[k] for k in PARAMETERS}, dtype)
    return {"calls": [call(torch, function, torch.tensor(x, dtype=dtype)) for x in inputs["inputs"]]}


def backprop(torch, ns: dict, inputs: dict) -> Record:
    function = defined(ns, "backprop")
    set_globals(torch, ns, {k: inputs[k] for k in (*PARAMETERS, "X", "Y")}, own_dtype(torch, ns.get("W1")))
    return {"call": call(torch, function, ns["X"], watch_autograd=True)}


def toymodel(torch, ns: dict, inputs: dict) -> Record:
    cls = defined(ns, "ToyModel")
    torch.manual_seed(inputs["seed"])
    try:
        module = cls()
    except Exception as exc:  # noqa: BLE001
        return {"error": describe(exc)}
    return {"object": module_data(torch, module, torch.tensor(inputs["x"], dtype=own_dtype(torch, module)))}


def model(torch, ns: dict, inputs: dict) -> Record:
    module = defined(ns, "model")
    data = module_data(torch, module, torch.tensor(inputs["x"], dtype=own_dtype(torch, module)))
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
