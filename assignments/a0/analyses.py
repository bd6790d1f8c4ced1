"""A0's analyses of the notebook's code, read with `ast` (never run) by its readings (readings.py) in the reader
child: how the training cell seeds, what its loops pass to `model` and to the loss, and writes through `.data`.
The engine's syntax helpers (grader/notebook/scan.py) keep them bounded and never raising on odd input."""

import ast

from grader.notebook.scan import MAX_NAMES, bindings, defined_names, own_expressions, parse, top_level

_SEED_CALLS = {"manual_seed", "manual_seed_all", "seed", "seed_everything", "set_seed"}


def _is_seed_call(node) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in _SEED_CALLS and bool(node.args or node.keywords)  # `torch.seed()` seeds at random


def seeds_before(source: str, name: str = "model") -> bool:
    """True when a seeding call (`torch.manual_seed(...)`, `torch.random.manual_seed`, `np.random.seed`,
    `random.seed`, `seed_everything`...) runs in the cell before the first assignment to `name`. False when the
    cell does not assign `name` or cannot be parsed."""
    tree = parse(source)
    if tree is None:
        return False
    seeded = False
    for statement in top_level(tree):
        bound = [node for bound_name, node in bindings(statement) if bound_name == name]
        calls = [node for node in own_expressions(statement) if _is_seed_call(node)]
        if bound:
            # `model = (torch.manual_seed(0), Net())[1]` and the like: a seed in the same statement counts only
            # when it is written before the name is bound.
            first = min((node.lineno, node.col_offset) for node in bound)
            return seeded or any((call.lineno, call.col_offset) < first for call in calls)
        seeded = seeded or bool(calls)
    return False


def loop_arguments(source: str, name: str = "model", method: str | None = None) -> dict:
    """What the cell's loops pass to the model and to the loss: {"input": the one variable every `name(...)` or
    `name.<method>(...)` call gets (`y_hat = model(x)`), "target": the one variable every loss call (`mse_loss`,
    `loss_fn`, `criterion`...) gets second (`mse_loss(y_hat, Y)`)}. Each is None unless the calls agree on one
    variable that the cell does not bind from the first such loop on (so its value after the notebook ran is the
    one the loop saw, unless a later cell binds it)."""
    tree = parse(source)
    if tree is None:
        return {"input": None, "target": None}
    passed: dict = {"input": {}, "target": {}}  # variable (None: anything else) -> first loop's line
    for statement in top_level(tree):
        if not isinstance(statement, (ast.For, ast.AsyncFor, ast.While)):
            continue
        for inner in top_level(ast.Module(body=statement.body + statement.orelse, type_ignores=[])):
            for node in own_expressions(inner):
                if not isinstance(node, ast.Call):
                    continue
                role, position = ("input", 0) if _names_call(node.func, name, method) else ("target", 1)
                if role == "target" and not _loss_call(node.func):
                    continue
                argument = node.args[position] if len(node.args) == position + 1 else None
                variable = argument.id if isinstance(argument, ast.Name) and not node.keywords else None
                passed[role].setdefault(variable, statement.lineno)
    found = {}
    for role, variables in passed.items():
        variable, first = next(iter(variables.items())) if len(variables) == 1 else (None, 0)
        rebound = any(
            bound == variable and node.lineno >= first
            for statement in top_level(tree)
            for bound, node in bindings(statement)
        )
        found[role] = None if rebound else variable
    return found


def _names_call(func, name: str, method: str | None) -> bool:
    if isinstance(func, ast.Attribute) and method and func.attr == method:
        func = func.value
    return isinstance(func, ast.Name) and func.id == name


def _loss_call(func) -> bool:
    called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return called.lower().endswith("loss") or called in ("criterion", "loss_fn", "loss_function")


def read_then_bound(source: str, later: list) -> list[str]:
    """The names the cell reads that a later cell (`later`, their sources) binds again: after the notebook has run,
    their values may not be the ones this cell used."""
    tree = parse(source)
    if tree is None:
        return []
    read = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    bound = {name for cell in later if any(name in cell for name in read) for name in defined_names(cell)}
    return sorted(read & bound)[:MAX_NAMES]


def writes_through_data(sources: list) -> bool:
    """Does any cell change a tensor through `.data` (`p.data -= lr * p.grad`, `p.data.sub_(...)`,
    `p.data = ...`)? Such a change is not counted in the tensor's version."""
    for source in sources:
        tree = parse(source) if isinstance(source, str) and ".data" in source else None
        for node in ast.walk(tree) if tree else ():
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            if isinstance(node, (ast.Assign, ast.AugAssign)) and any(map(_through_data, targets)):
                return True
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                method = node.func.attr
                if method.endswith("_") and not method.startswith("_") and _through_data(node.func.value):
                    return True
    return False


def _through_data(node) -> bool:
    while isinstance(node, ast.Subscript):
        node = node.value
    return isinstance(node, ast.Attribute) and node.attr == "data"
