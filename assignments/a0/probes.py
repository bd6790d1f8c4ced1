"""A0's probes, run in the child after the notebook's last cell: each calls the notebook's object on the parent's
inputs and returns plain data (records.Record), with the engine's helpers (grader/child/probes.py)."""

from grader.child.errors import describe
from grader.child.observe import autograd_runs
from grader.child.probes import call, defined, module_data, own_dtype, set_globals
from grader.records import Record

PARAMETERS = ("W1", "B1", "W2", "B2")


def forward(torch, ns: dict, inputs: dict) -> Record:
    function = defined(ns, "forward")
    dtype = own_dtype(torch, ns.get("W1"))
    set_globals(torch, ns, {k: inputs[k] for k in PARAMETERS}, dtype)
    return {"calls": [call(torch, function, torch.tensor(x, dtype=dtype)) for x in inputs["inputs"]]}


def backprop(torch, ns: dict, inputs: dict) -> Record:
    """With what torch saw of autograd's engine from the inputs' arrival to the answer, on any thread."""
    function = defined(ns, "backprop")
    with autograd_runs(torch) as seen:
        set_globals(torch, ns, {k: inputs[k] for k in (*PARAMETERS, "X", "Y")}, own_dtype(torch, ns.get("W1")))
        result = call(torch, function, ns["X"])
    return {"call": {**result, **({"autograd": seen} if seen else {})}}  # type: ignore[typeddict-item]  # seen: an Autograd once filled


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
        data["facts"] = {
            "updated": _updated(torch, module),
            "grads": _grads(torch, module),
            "inputs": _toy_tensors(torch, ns, inputs["x"], 3),
            "targets": _toy_tensors(torch, ns, inputs["y"], 2, numbers=True),
            "x_dtype": _dtype(torch, ns.get("X")),
        }
    return {"object": data}


def _updated(torch, module) -> bool | None:
    """Were the model's parameters changed in place since it was created (an optimizer's step, a copy_)? Each
    in-place change counts in a tensor's version; a new model of the same class gives the versions at creation.
    None when that cannot be told (the class needs arguments, parameters were replaced). A change through `.data`
    is not counted: the reader says whether the notebook makes one."""
    try:
        fresh = [p._version for p in type(module)().parameters()]
        own = [p._version for p in module.parameters()]
    except Exception:  # noqa: BLE001
        return None
    if len(own) != len(fresh) or any(v < f for v, f in zip(own, fresh)):
        return None
    return own != fresh


def _dtype(torch, value) -> str | None:
    """The dtype of the notebook's `X` ("torch.float64"), or None when `X` is not a plain tensor."""
    return str(value.dtype)[:100] if type(value) is torch.Tensor else None


def _grads(torch, module) -> bool | None:
    try:
        return any(isinstance(p.grad, torch.Tensor) for p in module.parameters())
    except Exception:  # noqa: BLE001
        return None


MAX_TENSORS = 64


def _toy_tensors(torch, ns, toy, features, numbers=False) -> dict:
    """{global name: is it the toy data `toy` (`torch.manual_seed(0); X, Y = generate_data(20)`)?} for the
    notebook's tensors of `features` features, and with `numbers` its tensors holding one number: what the model
    could have been called on, or its loss compared with."""
    found: dict = {}
    for name, value in list(ns.items())[:10_000]:
        if len(found) >= MAX_TENSORS:
            break
        if not (type(name) is str and name.isascii() and name.isidentifier() and len(name) <= 64 and name[0] != "_"):
            continue
        try:
            if not isinstance(value, torch.Tensor):
                continue
            if (value.dim() >= 1 and value.shape[-1] == features) or (value.dim() == 0 and numbers):
                expected = torch.tensor(toy).double()
                found[name] = bool(value.shape == expected.shape and torch.allclose(value.double(), expected))
        except Exception:  # noqa: BLE001
            continue
    return found
