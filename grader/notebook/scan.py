"""Facts about a cell's code, read with `ast` (never run): bounded, and never raising on odd input."""

import ast
import hashlib
import json
from pathlib import Path

from .. import settings

MAX_SOURCE_CHARS = 1_000_000  # a larger cell is not analysed (every function answers "nothing found")
MAX_NAMES = 200

_SEED_CALLS = {"manual_seed", "manual_seed_all", "seed", "seed_everything", "set_seed"}
_BLOCK_FIELDS = ("body", "handlers", "orelse", "finalbody", "cases")
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _parse(source) -> ast.Module | None:
    """The cell's syntax tree, or None. Lines of IPython syntax (`%magic`, `!cmd`) are blanked first, so a
    `%%time` cell or a `!pip` line does not hide the rest; top-level `await` is accepted, as in Jupyter."""
    if not isinstance(source, str) or len(source) > MAX_SOURCE_CHARS:
        return None
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    for attempt in (source, _without_ipython_lines(source)):
        try:
            return compile(attempt, "<cell>", "exec", flags=flags, dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
            continue
    return None


def _without_ipython_lines(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


def _top_level(tree: ast.Module):
    """Statements run when the cell runs: the top level and the bodies of for/while/if/with/try/match blocks,
    not function or class bodies. Iterative, in source order."""
    stack = list(reversed(tree.body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _SCOPES):
            continue
        children = [child for name in _BLOCK_FIELDS for child in getattr(node, name, None) or ()]
        stack.extend(reversed(children))  # statements, and except handlers and match cases (their bodies next)


def _target_names(target):
    stack = [target]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, (ast.Tuple, ast.List)):
            stack.extend(reversed(node.elts))
        elif isinstance(node, ast.Starred):
            stack.append(node.value)


def _bindings(statement):
    """(name, node) for every name the statement itself binds (not its nested blocks)."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield statement.name, statement
    elif isinstance(statement, (ast.Import, ast.ImportFrom)):
        for alias in statement.names:
            if alias.name != "*":
                yield alias.asname or alias.name.split(".")[0], statement
    else:
        targets = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            targets = [statement.target]
        elif isinstance(statement, (ast.With, ast.AsyncWith)):
            targets = [item.optional_vars for item in statement.items if item.optional_vars is not None]
        for target in targets:
            for name in _target_names(target):
                yield name, statement
        if isinstance(statement, ast.ExceptHandler) and statement.name:
            yield statement.name, statement
        for node in _own_expressions(statement):  # `if (model := Net()):` binds too
            if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
                yield node.target.id, node


def _own_expressions(statement):
    """The expression nodes of a statement, without descending into nested statements or new scopes."""
    stack = [child for field, child in ast.iter_fields(statement) if field not in _BLOCK_FIELDS]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, ast.AST) and not isinstance(value, (ast.stmt, *_SCOPES)):
            yield value
            stack.extend(child for _, child in ast.iter_fields(value))


def defined_names(source: str) -> list[str]:
    """Names the cell defines when it runs, in order of first definition; [] when it cannot be parsed."""
    tree = _parse(source)
    names: dict = {}
    for statement in _top_level(tree) if tree else ():
        for name, _ in _bindings(statement):
            names.setdefault(name, None)
            if len(names) >= MAX_NAMES:
                return list(names)
    return list(names)


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
    tree = _parse(source)
    if tree is None:
        return False
    seeded = False
    for statement in _top_level(tree):
        bound = [node for bound_name, node in _bindings(statement) if bound_name == name]
        calls = [node for node in _own_expressions(statement) if _is_seed_call(node)]
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
    tree = _parse(source)
    if tree is None:
        return {"input": None, "target": None}
    passed: dict = {"input": {}, "target": {}}  # variable (None: anything else) -> first loop's line
    for statement in _top_level(tree):
        if not isinstance(statement, (ast.For, ast.AsyncFor, ast.While)):
            continue
        for inner in _top_level(ast.Module(body=statement.body + statement.orelse, type_ignores=[])):
            for node in _own_expressions(inner):
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
            for statement in _top_level(tree)
            for bound, node in _bindings(statement)
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
    tree = _parse(source)
    if tree is None:
        return []
    read = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    bound = {name for cell in later if any(name in cell for name in read) for name in defined_names(cell)}
    return sorted(read & bound)[:MAX_NAMES]


def writes_through_data(sources: list) -> bool:
    """Does any cell change a tensor through `.data` (`p.data -= lr * p.grad`, `p.data.sub_(...)`,
    `p.data = ...`)? Such a change is not counted in the tensor's version."""
    for source in sources:
        tree = _parse(source) if isinstance(source, str) and ".data" in source else None
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


def _cell_sources(cells):
    """The code cells' sources of nbformat 4 cells (`source`) or nbformat 3 cells (`input`)."""
    if not isinstance(cells, list):
        return
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", cell.get("input", ""))
            if isinstance(source, list):
                source = "".join(part for part in source if isinstance(part, str))
            yield source if isinstance(source, str) else ""


def _notebook_cells(path, max_bytes: int) -> list | None:
    try:
        path = Path(path)
        if path.is_symlink() or path.stat().st_size > max_bytes:
            return None
        with open(path, "rb") as file:
            data = json.loads(file.read(max_bytes + 1).decode("utf-8-sig"))
    except (OSError, ValueError, RecursionError, MemoryError, TypeError):
        return None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("cells"), list):
        return data["cells"]
    worksheets = data.get("worksheets")  # nbformat 3
    if isinstance(worksheets, list):
        return [
            cell
            for sheet in worksheets
            if isinstance(sheet, dict) and isinstance(sheet.get("cells"), list)
            for cell in sheet["cells"]
        ]
    return None


def code_fingerprint(cells_or_path, max_bytes: int | None = None) -> str:
    """sha256 of the code cells' sources with all whitespace removed (outputs, markdown and layout ignored).
    Accepts a list of cell dicts or a notebook's path (read only if at most `max_bytes`, default the setting
    notebook_bytes); "" when it cannot be read."""
    if isinstance(cells_or_path, list):
        cells = cells_or_path
    else:
        cells = _notebook_cells(cells_or_path, max_bytes or settings.declared_default("notebook_bytes"))
    if cells is None:
        return ""
    digest = hashlib.sha256()
    for source in _cell_sources(cells):
        digest.update("".join(source.split()).encode("utf-8", "surrogatepass") + b"\x00")
    return digest.hexdigest()


# -- autograd in a function that runs: what its code calls, followed into the notebook's own helpers
MAX_EVIDENCE = 12
MAX_FOLLOWED = 500  # functions and methods followed from the function
_ENGINE_ATTRIBUTES = {"_execution_engine", "run_backward", "_engine_run_backward", "grad_fn", "next_functions"}
_AUTOGRAD_CALLS = (  # dotted names (after the notebook's imports are resolved) that compute gradients
    "torch.autograd.grad",
    "torch.autograd.backward",
    "torch.autograd.functional.",
    "torch.autograd.forward_ad.",
    "torch.func.",
    "functorch.",
    "torch.enable_grad",
    "torch.autograd.enable_grad",
    "torch.autograd.grad_mode.enable_grad",
)
_GRAD_SWITCHES = {"set_grad_enabled", "_set_grad_enabled"}  # autograd only when turned on
_DYNAMIC = {"eval", "exec", "compile", "__import__"}
# A cell holding none of these binds no name, calls nothing and names nothing of the grader: nothing to analyse.
_CAN_MATTER = (
    "def",
    "class",
    "import",
    "=",
    "for",
    "with",
    "except",
    "(",
    "@",
    "ctypes",
    "Reporter",
    "grader",
    "/proc",
)


def autograd_in(sources: list, name: str) -> list[str]:
    """Evidence that the function `name` that runs (its last top-level definition in the code cells `sources`) computes
    gradients with autograd: ["cell 5, line 3: loss.backward()", ...]; [] when nothing was found.

    What counts is what the code calls, read from the syntax tree: `.backward()` on a tensor, `torch.autograd.grad`
    and its relatives, `torch.func`, autograd's engine (`_execution_engine.run_backward`), walking `grad_fn`
    nodes, turning autograd on (`enable_grad`, `set_grad_enabled(True)`), `eval`/`exec`; in the function, its nested
    functions, and the notebook's own functions and methods it reaches. Words never count: comments, docstrings,
    strings, turning autograd off, `requires_grad`, imports, checks in other cells."""
    notebook = sources if isinstance(sources, CodeCells) else CodeCells(sources)
    target = notebook.functions.get(name)
    if target is None:
        return []
    evidence, seen, queue = [], set(), [target]
    while queue and len(seen) < MAX_FOLLOWED and len(evidence) < MAX_EVIDENCE:
        cell, node = queue.pop(0)
        if id(node) in seen:
            continue
        seen.add(id(node))
        for found in notebook.evidence(cell, node):
            if found not in evidence:
                evidence.append(found)
        queue.extend(notebook.reached(node))
    return evidence[:MAX_EVIDENCE]


class CodeCells:
    """A notebook's code cells, each parsed once, and their top-level names as they stand after the last cell:
    functions, classes, import aliases (`ag` -> `torch.autograd`) and names bound to autograd's own objects."""

    def __init__(self, sources) -> None:
        self.lines, self.trees, self.functions, self.classes, self.aliases, self.bound = {}, {}, {}, {}, {}, {}
        for cell, source in enumerate(sources, 1):
            if not isinstance(source, str) or not any(token in source for token in _CAN_MATTER):
                continue  # `pass`, `x`, `%matplotlib inline`: binds nothing, calls nothing (80,000 of them: 6 s)
            tree = _parse(source)
            if tree is None:
                continue  # a cell that does not parse defines nothing when it runs
            self.trees[cell] = tree
            self.lines[cell] = source.split("\n")
            for statement in _top_level(tree):
                self._bind(cell, statement)

    def _bind(self, cell, statement) -> None:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            module = "" if isinstance(statement, ast.Import) else (statement.module or "") + "."
            for alias in statement.names:
                if alias.name == "*":
                    continue
                full = module + alias.name
                local = alias.asname or (alias.name if module else alias.name.split(".")[0])
                self._forget(local)
                self.aliases[local] = full if (alias.asname or module) else local
            return
        for bound, node in _bindings(statement):
            self._forget(bound)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions[bound] = (cell, node)
            elif isinstance(node, ast.ClassDef):
                self.classes[bound] = (cell, node)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                value = node.value
                if isinstance(value, ast.Name) and value.id in self.functions:  # grad = my_grad
                    self.functions[bound] = self.functions[value.id]
                elif isinstance(value, (ast.Name, ast.Attribute)) and self.dotted(value):
                    self.aliases[bound] = self.dotted(value)
                if self._findings(value, self.dotted):
                    self.bound[bound] = (cell, node)  # run = Variable._execution_engine.run_backward

    def _forget(self, name) -> None:
        for table in (self.functions, self.classes, self.aliases, self.bound):
            table.pop(name, None)

    def dotted(self, node) -> str:
        """`ag.grad` -> "torch.autograd.grad" through the notebook's imports; "" for anything else."""
        parts = []
        for _ in range(50):
            if isinstance(node, ast.Attribute):
                parts.append(node.attr)
                node = node.value
            elif _constant_getattr(node):
                parts.append(node.args[1].value)
                node = node.args[0]
            else:
                break
        if not isinstance(node, ast.Name):
            return ""
        return ".".join([self.aliases.get(node.id, node.id), *reversed(parts)])

    def own_backward_methods(self) -> bool:
        return any(_methods(cls, "backward") for _, cls in self.classes.values())

    def evidence(self, cell, function) -> list[str]:
        found = self._findings(function, self.dotted, self.own_backward_methods(), function)
        found += [node for node in ast.walk(function) if isinstance(node, ast.Name) and node.id in self.bound]
        return [self._line(cell, node) for node in sorted(found, key=lambda n: (n.lineno, n.col_offset))]

    def _line(self, cell, node) -> str:
        if isinstance(node, ast.Name) and node.id in self.bound:
            cell, node = self.bound[node.id]
        lines = self.lines.get(cell, [])
        text = lines[node.lineno - 1].strip() if 0 < node.lineno <= len(lines) else ""
        return f"cell {cell}, line {node.lineno}: {text[:200]}"

    def reached(self, function):
        """The notebook's own functions and methods this code refers to (called or passed along)."""
        for node in ast.walk(function):
            if isinstance(node, ast.Name) and node.id in self.functions:
                yield self.functions[node.id]
            elif isinstance(node, ast.Name) and node.id in self.classes:
                cell, cls = self.classes[node.id]
                yield from ((cell, method) for method in _methods(cls, None))
            elif isinstance(node, ast.Attribute):
                for cell, cls in self.classes.values():
                    yield from ((cell, method) for method in _methods(cls, node.attr))

    def _findings(self, tree, dotted, own_backward=False, function=None) -> list:
        found = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in _ENGINE_ATTRIBUTES:
                found.append(node)
            elif _constant_getattr(node) and node.args[1].value in _ENGINE_ATTRIBUTES:
                found.append(node)
            elif isinstance(node, ast.Call):
                name = dotted(node.func)
                last = name.rsplit(".", 1)[-1]
                if _autograd_call(name) or (name and name in _DYNAMIC):
                    found.append(node)
                elif last in _GRAD_SWITCHES and not _turns_off(node):
                    found.append(node)
                elif isinstance(node.func, ast.Attribute) and node.func.attr == "backward":
                    if name.startswith("torch.") or not own_backward or _tensor_receiver(node.func.value, function):
                        found.append(node)
        return found


def _autograd_call(name: str) -> bool:
    return any(name == entry or (entry.endswith(".") and name.startswith(entry)) for entry in _AUTOGRAD_CALLS)


def _methods(cls, name):
    return [
        node
        for node in cls.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (name is None or node.name == name)
    ]


def _constant_getattr(node) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    )


def _turns_off(call) -> bool:
    """`set_grad_enabled(False)`: autograd off is never autograd."""
    value = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "mode"), None)
    return isinstance(value, ast.Constant) and not value.value


def _tensor_receiver(receiver, function) -> bool:
    """When the notebook has its own `backward` methods: whether `receiver.backward(...)` is a tensor's. A name
    assigned in the function from anything but a constructor call is taken for a tensor (`loss = ...sum()`);
    `self.layer`, parameters, loop variables and objects the notebook built are its own objects."""
    if isinstance(receiver, (ast.BinOp, ast.Subscript)):
        return True
    if isinstance(receiver, ast.Call):
        return isinstance(receiver.func, ast.Attribute)  # `(...).sum().backward()`
    if not isinstance(receiver, ast.Name) or function is None:
        return False
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and any(receiver.id in _target_names(target) for target in node.targets):
            value = node.value
            if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id[:1].isupper()):
                return True
    return False


# -- code that reaches into the grader (its memory, its channel, torch's or the standard library's functions)
_PROBING_CALLS = {
    "gc.get_objects",
    "gc.get_referrers",
    "gc.get_referents",
    "sys._getframe",
    "sys.settrace",
    "sys.setprofile",
    "sys.addaudithook",
    "threading.settrace",
    "inspect.currentframe",
    "inspect.stack",
    "inspect.getouterframes",
    "os.write",
    "os.read",
    "os.fdopen",
    "os.dup",
    "os.dup2",
}
_PATCHED_MODULES = ("torch", "json", "os", "sys", "builtins", "gc", "io", "threading", "numpy", "grader")
_PATCH_ALLOWED = ("torch.backends.", "sys.stdout", "sys.stderr", "numpy.random.seed")
# the notebook's own settings, not the grader's: `sys.argv = ['']` for argparse, `sys.path += [...]`, `os.environ = ...`
_SETTINGS = {"sys.argv", "sys.path", "os.environ", "sys.tracebacklimit", "sys.dont_write_bytecode"}
_GRADER_WORDS = ("grader.child", "grader.sandbox", "/proc/self/fd", "channel_fd", "/autograder/source")


def grader_probing(sources: list) -> list[str]:
    """Evidence that the notebook's code reaches into the grader rather than doing the assignment: it walks the
    process's memory or frames (`gc.get_objects`, `sys._getframe`, tracing), writes to descriptors by number,
    replaces functions of torch or the standard library (`torch.Tensor.__matmul__ = ...`, `json.loads = ...`), or
    names the grader's own parts. ["cell 1, line 2: ...", ...]; flagged for the staff, never scored."""
    notebook = sources if isinstance(sources, CodeCells) else CodeCells(sources)
    found = []
    for cell, tree in notebook.trees.items():
        for node in ast.walk(tree):
            if _probes_grader(notebook, node):
                line = notebook._line(cell, node)
                if line not in found:
                    found.append(line)
                if len(found) >= MAX_EVIDENCE:
                    return found
    return found


def _probes_grader(notebook, node) -> bool:
    if isinstance(node, ast.Call):
        name = notebook.dotted(node.func)
        if name in _PROBING_CALLS or name.startswith("ctypes."):
            return True
        if name in ("setattr", "builtins.setattr") and node.args:
            return _patched(notebook.dotted(node.args[0]) + ".attribute")
        return False
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Attribute) and _patched(notebook.dotted(t)) for t in targets)
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        return any(module == "grader" or module.startswith("grader.") for module in modules)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any(word in node.value for word in _GRADER_WORDS)
    if isinstance(node, ast.Attribute) and notebook.dotted(node).startswith("ctypes."):
        return True
    return isinstance(node, (ast.Name, ast.Attribute)) and (getattr(node, "id", None) or node.attr) == "Reporter"


def _patched(name: str) -> bool:
    module = name.split(".", 1)[0]
    allowed = name.startswith(_PATCH_ALLOWED) or name in _SETTINGS
    return module in _PATCHED_MODULES and "." in name.strip(".") and not allowed
