"""Common slips found in the notebook's text with `ast` (never run), for the words of hints.py: run by the reader
child (readings.slips). Each finding is (cell, line, ...) so that a hint is given only for the cell and line that
raised, or for the object the probe found."""

import ast

from grader.notebook.scan import _parse

MAX_FOUND = 20
HANDOUT_SHAPES = {"W1": (3, 4), "W2": (4, 2)}  # the handout's `W1 = torch.randn(3, 4) * 0.2` cell
_LAYER_CLASSES = {"Sigmoid", "ReLU", "Tanh", "Linear"}  # the first three are also functions: torch.sigmoid, ...
_RANDOM = {"randn", "rand", "zeros", "ones", "empty", "normal"}


def _attr_or_name(func) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _of_nn(func, from_nn: set) -> str:
    """ "Sigmoid" for `nn.Sigmoid`, `torch.nn.Sigmoid`, or `Sigmoid` imported from torch.nn; else ""."""
    if isinstance(func, ast.Attribute) and func.attr in _LAYER_CLASSES:
        value = func.value
        if (isinstance(value, ast.Name) and value.id == "nn") or (
            isinstance(value, ast.Attribute) and value.attr == "nn" and _attr_or_name(value.value) == "torch"
        ):
            return func.attr
    if isinstance(func, ast.Name) and func.id in from_nn:
        return func.id
    return ""


_TOKENS = ("backward", "Sigmoid", "ReLU", "Tanh", "Linear", "set_default", "W1", "W2", "import")


def _trees(code: list):
    for cell, source in code:
        if isinstance(source, str) and len(source) < 200_000 and any(token in source for token in _TOKENS):
            tree = _parse(source)
            if tree is not None:
                yield cell, tree


def find(code: list) -> dict:
    """code: [(cell, source)]. Returns the slips found, each list bounded by MAX_FOUND."""
    trees = list(_trees(code))
    from_nn = {
        alias.asname or alias.name
        for _, tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "torch.nn"
        for alias in node.names
    }
    found: dict = {"no_grad_backward": [], "layer_called": [], "layers_in_forward": [], "default_dtype": []}
    weights: dict = {}  # W1, W2 -> where its last assignment draws it in the handout's shape turned, else None
    for cell, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.With, ast.AsyncWith)) and any(
                isinstance(item.context_expr, ast.Call) and _attr_or_name(item.context_expr.func) == "no_grad"
                for item in node.items
            ):
                found["no_grad_backward"] += [
                    [cell, call.lineno]
                    for statement in node.body
                    for call in ast.walk(statement)
                    if isinstance(call, ast.Call) and _attr_or_name(call.func) == "backward"
                ]
            elif isinstance(node, ast.Call):
                layer = _of_nn(node.func, from_nn)
                if (
                    layer
                    and layer != "Linear"
                    and node.args
                    and not all(isinstance(a, ast.Constant) for a in node.args)
                ):
                    found["layer_called"].append([cell, node.lineno, layer])  # nn.Sigmoid(t): a class called on t
                if _attr_or_name(node.func) in ("set_default_dtype", "set_default_tensor_type") and _float64(node):
                    found["default_dtype"].append([cell, node.lineno])
            elif isinstance(node, ast.ClassDef):
                for method in node.body:
                    if isinstance(method, ast.FunctionDef) and method.name == "forward":
                        kept = {  # `self.linear1 = nn.Linear(3, 4)` in forward: made once and kept, not a new one
                            id(a.value)
                            for a in ast.walk(method)
                            if isinstance(a, ast.Assign) and any(isinstance(t, ast.Attribute) for t in a.targets)
                        }
                        found["layers_in_forward"] += [
                            [node.name[:100], cell, call.lineno]
                            for call in ast.walk(method)
                            if isinstance(call, ast.Call)
                            and _of_nn(call.func, from_nn) == "Linear"
                            and id(call) not in kept
                        ]
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                if name in HANDOUT_SHAPES:
                    turned = _drawn_shape(node.value) == HANDOUT_SHAPES[name][::-1]
                    weights[name] = [name, cell, node.lineno] if turned else None
    found["transposed"] = [where for where in weights.values() if where]
    return {key: value[:MAX_FOUND] for key, value in found.items()}


def _float64(call) -> bool:
    """`torch.float64`, `torch.double`, "torch.DoubleTensor" among the call's arguments."""
    for node in ast.walk(call):
        if isinstance(node, ast.Attribute) and node.attr in ("float64", "double", "DoubleTensor"):
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "Double" in node.value:
            return True
    return False


def _drawn_shape(value) -> tuple | None:
    """(a, b) of `torch.randn(a, b)` (or rand, zeros, ...), alone or times a number, with int constants."""
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Mult):
        value = value.right if isinstance(value.left, ast.Constant) else value.left
    if isinstance(value, ast.Call) and _attr_or_name(value.func) in _RANDOM and len(value.args) == 2:
        first, second = value.args
        if isinstance(first, ast.Constant) and isinstance(second, ast.Constant):
            if type(first.value) is int and type(second.value) is int:
                return (first.value, second.value)
    return None
