"""Facts about a cell's code, read with `ast` (never run): bounded, and never raising on odd input."""

import ast
import hashlib
import json
import posixpath
import sys
from collections import ChainMap
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from .. import settings

MAX_SOURCE_CHARS = 1_000_000  # a larger cell is not analysed (every function answers "nothing found")
MAX_NAMES = 200
MAX_JSON_DEPTH = 128  # levels of a notebook's JSON (serde_json's default; nbformat's own structure has under 10)

_BLOCK_FIELDS = ("body", "handlers", "orelse", "finalbody", "cases")
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _parse(source) -> ast.Module | None:
    """The cell's syntax tree, or None. Lines of IPython syntax (`%magic`, `!cmd`) are blanked first, so a
    `%%time` cell or a `!pip` line does not hide the rest; top-level `await` is accepted, as in Jupyter. A cell
    under another cell magic (`%%writefile`, `%%bash`, `%%html`) is not Python: None."""
    if not isinstance(source, str) or len(source) > MAX_SOURCE_CHARS:
        return None
    first = source.lstrip().split(None, 1)[0] if source.strip() else ""
    if first.startswith("%%") and first[2:] not in _PYTHON_CELL_MAGICS:
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


def _top_level(tree: ast.Module, live: bool = False):
    """Statements run when the cell runs: the top level and the bodies of for/while/if/with/try/match blocks,
    not function or class bodies (with `live`, nor a branch that never runs: `if False:`). Iterative, in source
    order."""
    stack = list(reversed(tree.body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _SCOPES):
            continue
        fields: tuple[str, ...] = _BLOCK_FIELDS
        known = _known_truth(node.test) if live and isinstance(node, (ast.If, ast.While)) else None
        if known is not None:
            fields = ("body",) if known and isinstance(node, ast.If) else ("orelse",)
            fields = ("body", "orelse") if known and isinstance(node, ast.While) else fields
        children = [child for name in fields for child in getattr(node, name, None) or ()]
        stack.extend(reversed(children))  # statements, and except handlers and match cases (their bodies next)


def _known_truth(test):
    """Whether a test is always true or always false (`False`, `0`, `not True`, `__name__ != "__main__"` in a
    notebook); None when that depends on what runs."""
    if isinstance(test, ast.Constant):
        return bool(test.value)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _known_truth(test.operand)
        return None if inner is None else not inner
    if (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.ops) == 1
        and isinstance(test.ops[0], (ast.Eq, ast.NotEq))
        and isinstance(test.comparators[0], ast.Constant)
    ):
        return (test.comparators[0].value == "__main__") == isinstance(test.ops[0], ast.Eq)
    return None


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


def load_json(text: str):
    """json.loads, refusing JSON nested deeper than about MAX_JSON_DEPTH levels at once (RecursionError) instead of
    parsing it all first: CPython's decoder counts each level against the recursion limit (up to Python 3.11; from
    3.12 on, C recursion has a limit of its own and only that one applies)."""
    depth = 0
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + MAX_JSON_DEPTH)
    try:
        return json.loads(text)
    finally:
        sys.setrecursionlimit(limit)


def _notebook_cells(path, max_bytes: int) -> list | None:
    try:
        path = Path(path)
        if path.is_symlink() or path.stat().st_size > max_bytes:
            return None
        with open(path, "rb") as file:
            data = load_json(file.read(max_bytes + 1).decode("utf-8-sig"))
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
    cells: list | None
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
MAX_STRING = 100_000  # a string folded from constants, or written to a file, longer than this is not followed
MAX_NESTED = 4  # code in strings run by exec, in written modules, inside each other
_ENGINE_ATTRIBUTES = {"_execution_engine", "run_backward", "_engine_run_backward", "grad_fn", "next_functions"}
_GRAPH_ATTRIBUTES = {"grad_fn", "next_functions"}  # read, not called: `if x.grad_fn is not None` is no autograd
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
_IMPORTERS = {"importlib.import_module", "__import__"}
_CONTAINERS = {"list", "tuple", "reversed", "sorted", "ModuleList", "Sequential", "ModuleDict", "dict", "OrderedDict"}
# Cell magics whose body IPython runs as Python; any other (`%%writefile`, `%%bash`, `%%html`...) holds no code.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}
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
    """Evidence that the function `name` that runs (its last definition the code cells `sources` execute) computes
    gradients with autograd: ["cell 5, line 3: loss.backward()", ...]; [] when nothing was found.

    What counts is what the code calls, read from the syntax tree with names resolved as Python resolves them (a
    function's own locals are not the notebook's globals): `.backward()` on a tensor (not on the notebook's own
    layer objects), `torch.autograd.grad` and its relatives (also through `getattr` with names built from constants),
    `torch.func`, autograd's engine (`_execution_engine.run_backward`), calling `grad_fn` nodes, turning autograd on
    (`enable_grad`, `set_grad_enabled(True)`), `eval`/`exec`; in the function, its nested functions, and the
    notebook's own functions and methods it reaches, including those of a module the notebook wrote (`%%writefile`,
    a string written to a .py file) that it imports, and code in strings the notebook runs with exec. Words never
    count: comments, docstrings, strings, turning autograd off, `requires_grad`, reading `grad_fn`, imports, checks
    in other cells, a dead `if False:` definition, a `%%writefile` cell's text that nothing imports."""
    notebook = sources if isinstance(sources, CodeCells) else CodeCells(sources)
    target = notebook.functions.get(name)
    if target is None:
        return []
    evidence, seen, queue = list[str](), set[int](), [(notebook, *target)]
    while queue and len(seen) < MAX_FOLLOWED and len(evidence) < MAX_EVIDENCE:
        space, label, node = queue.pop(0)
        if id(node) in seen:
            continue
        seen.add(id(node))
        scope = _Scope(space, node)
        for found in space.evidence(label, node, scope):
            if found not in evidence:
                evidence.append(found)
        queue.extend(space.reached(node, scope))
    return evidence[:MAX_EVIDENCE]


class CodeCells:
    """A notebook's code cells (or a module it wrote), each parsed once, and their top-level names as they stand after
    the last cell: functions, classes, import aliases (`ag` -> `torch.autograd`), names bound to autograd's own
    objects, string constants, and the files its code writes."""

    def __init__(self, sources, labels=None, files=None, depth=0) -> None:
        self.lines: dict = {}
        self.trees: dict = {}
        self.functions: dict = {}
        self.classes: dict = {}
        self.aliases: dict = {}
        self.bound: dict = {}
        self.strings: dict = {}  # name -> the string constant it holds
        self.files = {} if files is None else files  # path -> (label of the writer, text) (shared with modules)
        self.modules: dict = {}  # module name -> CodeCells of the file the notebook wrote, once imported
        self.methods: dict = {}  # id(method) -> its class
        self.handles: dict = {}  # name -> path of a file opened for writing (`with open("m.py", "w") as f:`)
        self.depth = depth
        for number, source in enumerate(sources, 1):
            label = labels[number - 1] if labels else f"cell {number}"
            if not isinstance(source, str) or not any(token in source for token in _CAN_MATTER):
                continue  # `pass`, `x`, `%matplotlib inline`: binds nothing, calls nothing (80,000 of them: 6 s)
            written = _written_by_magic(source)
            if written:
                self._write(label, *written)
                continue
            tree = _parse(source)
            if tree is None:
                continue  # a cell that does not parse defines nothing when it runs
            self._add(label, source, tree)

    def _add(self, label, source, tree) -> None:
        self.trees[label] = tree
        self.lines[label] = source.split("\n")
        body = []  # a cell stops at a top-level `raise` (or `assert False`): what follows never runs
        for statement in tree.body:
            body.append(statement)
            if isinstance(statement, ast.Raise) or (
                isinstance(statement, ast.Assert) and _known_truth(statement.test) is False
            ):
                break
        for statement in _top_level(ast.Module(body=body, type_ignores=[]), live=True):
            self._bind(label, statement)

    def _write(self, label, path, text, append=False) -> None:
        if not isinstance(path, str) or not isinstance(text, str):
            return
        path = posixpath.normpath(path)
        text = (self.files.get(path, ("", ""))[1] if append else "") + text
        if len(text) <= MAX_STRING and (path in self.files or len(self.files) < 50):
            self.files[path] = (label, text)

    def _bind(self, label, statement) -> None:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            module = "" if isinstance(statement, ast.Import) else (statement.module or "") + "."
            for alias in statement.names:
                if alias.name == "*":
                    written = self.module(module[:-1]) if module else None  # from helpers import *
                    for name in [*written.functions, *written.classes] if written else ():
                        self._forget(name)
                        self.aliases[name] = module + name
                    continue
                full = module + alias.name
                local = alias.asname or (alias.name if module else alias.name.split(".")[0])
                self._forget(local)
                self.aliases[local] = full if (alias.asname or module) else local
            return
        if isinstance(statement, ast.Expr):
            self._run_or_write(label, statement.value)
        elif isinstance(statement, (ast.With, ast.AsyncWith)):
            for item in statement.items:
                path = self._opened_for_writing(item.context_expr)
                if path and isinstance(item.optional_vars, ast.Name):
                    self.handles[item.optional_vars.id] = path
        text = None  # a string the statement binds: CODE = "...", CODE = CODE + "...", CODE += "..."
        if isinstance(statement, ast.AugAssign) and isinstance(statement.op, ast.Add):
            text = _fold(ast.BinOp(statement.target, ast.Add(), statement.value), self.strings)
        elif isinstance(statement, ast.Assign):
            text = _fold(statement.value, self.strings)
        for bound, node in _bindings(statement):
            self._forget(bound)
            if text is not None and isinstance(node, (ast.Assign, ast.AugAssign)):
                self.strings[bound] = text
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions[bound] = (label, node)
            elif isinstance(node, ast.ClassDef):
                self.classes[bound] = (label, node)
                for method in _methods(node, None):
                    self.methods[id(method)] = node
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                self._assigned(label, bound, node.value)

    def _assigned(self, label, bound, value) -> None:
        if isinstance(value, ast.Name) and value.id in self.functions:  # grad = my_grad
            self.functions[bound] = self.functions[value.id]
        elif isinstance(value, ast.Call) and self.dotted(value.func) in _IMPORTERS and value.args:
            module = _fold(value.args[0], self.strings)  # m = importlib.import_module("hel" + "pers")
            if module:
                self.aliases[bound] = module
        elif isinstance(value, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)) and self.dotted(value):
            self.aliases[bound] = self.dotted(value)
        elif isinstance(value, (ast.Lambda, ast.Call)):  # f = lambda x: ..., = make_f(w), = F()
            self.functions[bound] = (label, value)
        if self._findings(value, _Scope(self, None)):
            self.bound[bound] = (label, value)  # run = Variable._execution_engine.run_backward

    def _run_or_write(self, label, call) -> None:
        """`exec("...")` of a string the notebook holds runs its code here; `open("m.py", "w").write("...")`,
        `f.write(...)` and `Path("m.py").write_text(...)` write a module the notebook may import."""
        if not isinstance(call, ast.Call) or not call.args:
            return
        name = self.dotted(call.func)
        if name in ("exec", "builtins.exec"):
            code = call.args[0]
            if isinstance(code, ast.Call) and self.dotted(code.func) == "compile" and code.args:
                code = code.args[0]
            text = _fold(code, self.strings)
            tree = _parse(text) if text is not None and self.depth < MAX_NESTED else None
            if tree is not None:
                self.depth += 1
                self._add(f"{label}, in the string exec runs", text, tree)
                self.depth -= 1
            return
        if not isinstance(call.func, ast.Attribute) or call.func.attr not in ("write", "write_text"):
            return
        receiver = call.func.value
        if call.func.attr == "write_text":
            path = _fold(receiver.args[0], self.strings) if isinstance(receiver, ast.Call) and receiver.args else None
            path = path if path is not None and self.dotted(receiver.func).rsplit(".", 1)[-1] == "Path" else None  # type: ignore[attr-defined]  # receiver is the Call that gave args
        elif isinstance(receiver, ast.Name):
            path = self.handles.get(receiver.id)
        else:
            path = self._opened_for_writing(receiver)
        if path:
            self._write(label, path, _fold(call.args[0], self.strings), append=path in self.files)

    def _opened_for_writing(self, node):
        if not (isinstance(node, ast.Call) and self.dotted(node.func) in ("open", "io.open") and node.args):
            return None
        mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
        mode = _fold(mode, self.strings) if mode is not None else "r"
        return _fold(node.args[0], self.strings) if mode and mode[0] in "wax" else None

    def _forget(self, name) -> None:
        for table in (self.functions, self.classes, self.aliases, self.bound, self.strings):
            table.pop(name, None)

    def dotted(self, node, scope=None) -> str:
        """`ag.grad` -> "torch.autograd.grad" through the notebook's imports (and, in `scope`, the function's own
        aliases: `g = getattr(torch.autograd, "gr" + "ad")`); "" for anything else, and for a local variable."""
        parts = []
        strings = scope.strings if scope else self.strings
        for _ in range(50):
            if isinstance(node, ast.Attribute):
                parts.append(node.attr)
                node = node.value
            elif _is_getattr(node) and _fold(node.args[1], strings) is not None:
                parts.append(_fold(node.args[1], strings))
                node = node.args[0]
            elif isinstance(node, ast.Subscript) and _namespace_of(node.value) is not None:
                key = _fold(node.slice, strings)  # torch.autograd.__dict__["grad"], vars(torch.autograd)["grad"]
                if key is None:
                    return ""
                parts.append(key)
                node = _namespace_of(node.value)
            else:
                break
        if not isinstance(node, ast.Name):
            return ""
        if scope is not None and not scope.is_global(node):
            base = scope.aliases.get(node.id)
            return ".".join([base, *reversed(parts)]) if base else ""
        return ".".join([self.aliases.get(node.id, node.id), *reversed(parts)])

    def own_backward_methods(self) -> bool:
        return any(_methods(cls, "backward") for _, cls in self.classes.values())

    def evidence(self, label, function, scope) -> list[str]:
        found = self._findings(function, scope, function)
        found += [node for node in scope.global_names if node.id in self.bound]
        return [self._line(label, node) for node in sorted(found, key=lambda n: (n.lineno, n.col_offset))]

    def _line(self, label, node) -> str:
        if isinstance(node, ast.Name) and node.id in self.bound:
            label, node = self.bound[node.id]
        lines = self.lines.get(label, [])
        text = lines[node.lineno - 1].strip() if 0 < node.lineno <= len(lines) else ""
        return f"{label}, line {node.lineno}: {text[:200]}"

    def reached(self, function, scope):
        """The notebook's own functions and methods this code refers to (called or passed along), and those of the
        modules it wrote and imports: as (namespace, label, node)."""
        for node in scope.global_names:
            if node.id in self.functions:
                yield (self, *self.functions[node.id])
            elif node.id in self.classes:
                label, cls = self.classes[node.id]
                yield from ((self, label, method) for method in _methods(cls, None))
        for node in ast.walk(function):
            if isinstance(node, ast.Attribute):
                for label, cls in self.classes.values():
                    yield from ((self, label, method) for method in _methods(cls, node.attr))
            if isinstance(node, (ast.Name, ast.Attribute)):
                yield from self._in_written_module(self.dotted(node, scope))

    def _in_written_module(self, name: str):
        parts = name.split(".")
        for end in range(len(parts) - 1, 0, -1):
            module = self.module(".".join(parts[:end]))
            if module is None:
                continue
            if parts[end] in module.functions:
                yield (module, *module.functions[parts[end]])
            elif parts[end] in module.classes:
                label, cls = module.classes[parts[end]]
                yield from ((module, label, method) for method in _methods(cls, None))
            return

    def module(self, name: str):
        """The module the notebook wrote as `name` (`helpers.py`, `pkg/helpers.py`), parsed once; else None."""
        if name in self.modules or self.depth >= MAX_NESTED:
            return self.modules.get(name)
        path = name.replace(".", "/") + ".py"
        if path not in self.files:
            return None
        self.modules[name] = None  # a module importing itself
        writer, text = self.files[path]
        self.modules[name] = CodeCells([text], [f"file {path} (written by {writer})"], self.files, self.depth + 1)
        return self.modules[name]

    def _findings(self, tree, scope, function=None) -> list:
        found: list[ast.AST] = []
        parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in _ENGINE_ATTRIBUTES:
                if node.attr not in _GRAPH_ATTRIBUTES or not _only_read(node, parents):
                    found.append(node)
            elif _is_getattr(node) and _fold(node.args[1], scope.strings) in _ENGINE_ATTRIBUTES:  # type: ignore[attr-defined]  # a Call
                found.append(node)
            elif isinstance(node, ast.Call):
                name = self.dotted(node.func, scope)
                last = name.rsplit(".", 1)[-1]
                if _autograd_call(name) or (name and name in _DYNAMIC):
                    found.append(node)
                elif last in _GRAD_SWITCHES and not _turns_off(node):
                    found.append(node)
                elif isinstance(node.func, ast.Attribute) and node.func.attr == "backward":
                    own = self.own_backward_methods() and _Receivers(self, function, scope).own(node.func.value)
                    if name.startswith("torch.") or not own:
                        found.append(node)
        return found


class _Scope:
    """How a function's names resolve: which of its names are the notebook's globals (not its parameters or the
    variables it assigns, nor those of the functions around it), and its own aliases of dotted names and strings."""

    def __init__(self, space: CodeCells, function) -> None:
        self.global_names: list = []
        self.aliases: dict = {}
        self.strings = ChainMap({}, space.strings)
        self._globals: set = set()
        self._top = function is None  # the top level's own code: every name is a global
        if function is None:
            return
        for outside in _evaluated_outside(function):  # decorators and defaults: evaluated where it is defined
            self._walk(outside, frozenset())
        self._walk(function, frozenset())
        assignments: dict = {}
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                assignments.setdefault(node.targets[0].id, []).append(node.value)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                module = "" if isinstance(node, ast.Import) else (node.module or "") + "."
                for alias in node.names:
                    full = module + alias.name
                    if alias.name != "*":
                        local = alias.asname or (alias.name if module else alias.name.split(".")[0])
                        self.aliases[local] = full if (alias.asname or module) else local
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):  # def f(x, t=torch): t.autograd
            arguments = function.args
            positional = [*arguments.posonlyargs, *arguments.args]
            pairs = [*zip(positional[len(positional) - len(arguments.defaults) :], arguments.defaults)]
            pairs += [(a, d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults) if d is not None]
            for argument, default in pairs:
                if space.dotted(default, _Scope(space, None)):
                    self.aliases[argument.arg] = space.dotted(default, _Scope(space, None))
        for name, values in assignments.items():  # once-assigned names, in order: `n = "gr" + "ad"`, `g = getattr(...)`
            if len(values) == 1:
                text = _fold(values[0], self.strings)
                if text is not None:
                    self.strings[name] = text
                elif space.dotted(values[0], self):
                    self.aliases[name] = space.dotted(values[0], self)

    def is_global(self, node) -> bool:
        return self._top or id(node) in self._globals

    def _walk(self, scope, outer: frozenset) -> None:
        """Record the Name loads of `scope` (a function, lambda, class body, comprehension or expression) that find no
        binding in it or in the functions around it; nested scopes are walked with their own bindings."""
        local = _local_names(scope)
        inner = outer | local if not isinstance(scope, ast.ClassDef) else outer
        visible = outer | local
        stack = list(_scope_children(scope))
        while stack:
            node = stack.pop()
            if isinstance(node, (*_SCOPES, *_COMPREHENSIONS)) and node is not scope:
                for default in _evaluated_outside(node):  # defaults, decorators, the first iterable: outer scope
                    stack.append(default)
                self._walk(node, inner)
                continue
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in visible:
                self._globals.add(id(node))
                if len(self.global_names) < 10_000:
                    self.global_names.append(node)
            stack.extend(ast.iter_child_nodes(node))


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _scope_children(scope):
    """The nodes evaluated inside `scope` itself (not its defaults or decorators)."""
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return list(scope.body)
    if isinstance(scope, ast.Lambda):
        return [scope.body]
    if isinstance(scope, _COMPREHENSIONS):
        elements = [scope.key, scope.value] if isinstance(scope, ast.DictComp) else [scope.elt]
        first, *rest = scope.generators
        return [*elements, first.target, *first.ifs, *(part for g in rest for part in (g.target, g.iter, *g.ifs))]
    return [scope]  # an expression bound at the top level (`f = make(w)`): its names are globals


def _evaluated_outside(node) -> list:
    if isinstance(node, _COMPREHENSIONS):
        return [node.generators[0].iter]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        arguments = node.args
        extra = node.decorator_list if not isinstance(node, ast.Lambda) else []
        return [*arguments.defaults, *(d for d in arguments.kw_defaults if d is not None), *extra]
    if isinstance(node, ast.ClassDef):
        return [*node.bases, *node.decorator_list]
    return []


def _local_names(scope) -> frozenset:
    """The names a scope binds (Python's rule: any assignment in it makes a name local), less `global` ones."""
    if not isinstance(scope, (*_SCOPES, *_COMPREHENSIONS)):
        return frozenset()
    names, declared = set[str](), set[str]()
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        arguments = scope.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
        names.update(a.arg for a in every if a is not None)
    if isinstance(scope, _COMPREHENSIONS):
        for generator in scope.generators:
            names.update(_target_names(generator.target))
        return frozenset(names)
    stack = list(_scope_children(scope))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names) if isinstance(node, ast.Global) else None
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        elif isinstance(node, (ast.Lambda, *_COMPREHENSIONS)):
            continue
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name.split(".")[0]) for a in node.names if a.name != "*")
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        stack.extend(ast.iter_child_nodes(node))
    return frozenset(names - declared)


class _Receivers:
    """When the notebook has its own classes with `backward` methods: whether `receiver.backward(...)` is called on
    one of the notebook's own objects (`layer.backward(g)`, `layers[i].backward(g)`, `self.fc.backward(g)`) rather
    than on a tensor (`loss.backward()`, `losses[i].backward()`, `(a + b).backward()`)."""

    def __init__(self, space: CodeCells, function, scope: _Scope) -> None:
        self.space, self.function, self.scope = space, function, scope
        self.cls = space.methods.get(id(function))

    def own(self, node, depth=0) -> bool:
        if depth > 8:
            return False
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):  # Layer(...), make_layer(...); not torch.sigmoid(...)
                return not self.space.dotted(node.func, self.scope).startswith("torch.")
            return False  # `(...).sum().backward()`
        if isinstance(node, ast.Subscript):
            return self.holds_own(node.value, depth + 1)
        if isinstance(node, ast.Name):
            values = self._values(node)
            return values is None or all(self.own(value, depth + 1) for value in values)
        if isinstance(node, ast.Attribute):
            values = self._attribute_values(node)
            return values is None or all(self.own(value, depth + 1) for value in values)
        return False  # `(a + b).backward()` and the like

    def holds_own(self, node, depth) -> bool:
        """Whether a container holds the notebook's own objects: `[Linear(...), ReLU()]`, a comprehension of them,
        `list(...)`/`reversed(...)` of such a container, a list they are appended to."""
        if depth > 8:
            return False
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return all(self.own(element, depth + 1) for element in node.elts)
        if isinstance(node, ast.Dict):
            return all(self.own(value, depth + 1) for value in node.values)
        if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            return self.own(node.elt, depth + 1)
        if isinstance(node, ast.DictComp):
            return self.own(node.value, depth + 1)
        if isinstance(node, ast.Call):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            return called in _CONTAINERS and (not node.args or self.holds_own(node.args[0], depth + 1))
        if isinstance(node, ast.Subscript):
            return self.holds_own(node.value, depth + 1)
        if isinstance(node, (ast.Name, ast.Attribute)):
            values = self._values(node) if isinstance(node, ast.Name) else self._attribute_values(node)
            if values is None:
                return True  # a parameter, or an attribute set elsewhere: the notebook's own
            appended = self._appended(node)
            return all(self.holds_own(value, depth + 1) for value in values) and all(
                self.own(value, depth + 1) for value in appended
            )
        return False

    def _values(self, name):
        """What a name is assigned in the function (or at the top level, for a global): the values, a loop's
        elements as `x[0]`, or None when the function never assigns it and the notebook holds no value for it."""
        where = self.function if not self.scope.is_global(name) else None
        if where is None:
            found = [v for _, t, v in _assignments(self.space) if t == name.id]
            return found or None
        found = []
        for node in ast.walk(where):
            if isinstance(node, ast.Assign) and any(name.id in _target_names(t) for t in node.targets):
                single = len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                found.append(node.value if single else ast.Subscript(value=node.value, slice=ast.Constant(0)))
            elif isinstance(node, (ast.For, ast.comprehension)) and name.id in _target_names(node.target):
                iterable = node.iter
                if isinstance(iterable, ast.Call) and getattr(iterable.func, "id", "") == "enumerate":
                    iterable = iterable.args[0] if iterable.args else iterable
                found.append(ast.Subscript(value=iterable, slice=ast.Constant(0)))
        return found or None

    def _attribute_values(self, node):
        """What `self.<attr>` is assigned in the methods of the class the function belongs to; None if unknown."""
        if not (isinstance(node.value, ast.Name) and node.value.id == "self" and self.cls is not None):
            return None
        found = [
            statement.value
            for statement in ast.walk(self.cls)
            if isinstance(statement, ast.Assign)
            for target in statement.targets
            if isinstance(target, ast.Attribute)
            and target.attr == node.attr
            and getattr(target.value, "id", "") == "self"
        ]
        return found or None

    def _appended(self, container) -> list:
        where = self.cls if isinstance(container, ast.Attribute) else self.function
        if where is None:
            return []
        key = ast.dump(container)
        return [
            node.args[0]
            for node in ast.walk(where)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("append", "insert")
            and node.args
            and ast.dump(node.func.value) == key
        ]


def _assignments(space: CodeCells):
    """(label, target name, value) of the top-level single-name assignments, in order."""
    for label, tree in space.trees.items():
        for statement in _top_level(tree, live=True):
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                if isinstance(statement.targets[0], ast.Name):
                    yield label, statement.targets[0].id, statement.value


def _only_read(node, parents) -> bool:
    """`x.grad_fn is not None`, `if x.grad_fn:`, `print(x.grad_fn)`: the graph is looked at, nothing is run."""
    parent = parents.get(id(node))
    if isinstance(parent, (ast.Compare, ast.BoolOp, ast.UnaryOp)):
        return True
    if isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)) and parent.test is node:
        return True
    if isinstance(parent, ast.Call) and node in parent.args:
        return isinstance(parent.func, ast.Name) and parent.func.id in (
            "print",
            "type",
            "isinstance",
            "bool",
            "repr",
            "str",
        )
    return False


def _written_by_magic(source: str):
    """(path, text, append) for a `%%writefile [-a] path` cell; None for any other cell."""
    first, _, body = source.lstrip("\n").partition("\n")
    words = first.split()
    if not words or words[0] not in ("%%writefile", "%%file"):
        return None
    append = any(word in ("-a", "--append") for word in words[1:])
    paths = [word for word in words[1:] if not word.startswith("-")]
    return (paths[0].strip("'\""), body, append) if paths else None


def _namespace_of(node):
    """`m.__dict__` or `vars(m)`: the object m whose names it holds; else None."""
    if isinstance(node, ast.Attribute) and node.attr == "__dict__":
        return node.value
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "vars" and len(node.args) == 1:
        return node.args[0]
    return None


def _fold(node, strings: Mapping, depth: int = 0):
    """The string an expression always evaluates to, built from constants (`"gr" + "ad"`, `"".join([...])`,
    `"darg"[::-1]`, f-strings, names holding such strings); None when it cannot be known from the text."""
    if depth > 20 or node is None:
        return None
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.Name):
        return strings.get(node.id)
    text = None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _fold(node.left, strings, depth + 1), _fold(node.right, strings, depth + 1)
        text = left + right if left is not None and right is not None else None
    elif isinstance(node, ast.JoinedStr):
        parts = [
            _fold(v.value if isinstance(v, ast.FormattedValue) and v.format_spec is None else v, strings, depth + 1)
            for v in node.values
        ]
        text = "".join(parts) if all(p is not None for p in parts) else None
    elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        value = _fold(node.value, strings, depth + 1)
        bounds = [_int(part) for part in (node.slice.lower, node.slice.upper, node.slice.step)]
        if value is not None and all(b is not False for b in bounds) and bounds[2] != 0:
            text = value[slice(*bounds)]
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        receiver = _fold(node.func.value, strings, depth + 1)
        method = node.func.attr
        if receiver is not None and method == "join" and len(node.args) == 1:
            items = node.args[0].elts if isinstance(node.args[0], (ast.List, ast.Tuple)) else None
            parts = [_fold(item, strings, depth + 1) for item in items or ()]
            text = receiver.join(parts) if items is not None and all(p is not None for p in parts) else None
        elif receiver is not None and method == "replace" and len(node.args) == 2:
            old, new = (_fold(arg, strings, depth + 1) for arg in node.args)
            text = receiver.replace(old, new) if old is not None and new is not None else None
        elif receiver is not None and method in ("lower", "upper", "strip", "lstrip", "rstrip") and not node.args:
            text = getattr(receiver, method)()
    return text if text is None or len(text) <= MAX_STRING else None


def _int(node):
    """A slice bound: None when absent, an int constant, else False (unknown)."""
    if node is None:
        return None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        node = ast.Constant(-node.operand.value) if isinstance(node.operand.value, int) else node
    return node.value if isinstance(node, ast.Constant) and type(node.value) is int else False


def _autograd_call(name: str) -> bool:
    return any(name == entry or (entry.endswith(".") and name.startswith(entry)) for entry in _AUTOGRAD_CALLS)


def _methods(cls, name):
    return [
        node
        for node in cls.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (name is None or node.name == name)
    ]


def _is_getattr(node) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
    )


def _turns_off(call) -> bool:
    """`set_grad_enabled(False)`: autograd off is never autograd."""
    value = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "mode"), None)
    return isinstance(value, ast.Constant) and not value.value


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


def grader_probing(sources: "list | CodeCells") -> list[str]:
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
    return (
        isinstance(node, (ast.Name, ast.Attribute))
        and (node.id if isinstance(node, ast.Name) else node.attr) == "Reporter"
    )


def _patched(name: str) -> bool:
    module = name.split(".", 1)[0]
    allowed = name.startswith(_PATCH_ALLOWED) or name in _SETTINGS
    return module in _PATCHED_MODULES and "." in name.strip(".") and not allowed


# The syntax helpers an assignment's own analyses use (in its folder of assignments/, read by its readings).
parse, top_level, bindings, own_expressions = _parse, _top_level, _bindings, _own_expressions
