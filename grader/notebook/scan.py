"""Facts about a cell's code, read with `ast` (never run): bounded, and never raising on odd input."""

import ast
import hashlib
import json
from pathlib import Path

MAX_SOURCE_CHARS = 1_000_000  # a larger cell is not analysed (every function answers "nothing found")
MAX_NAMES = 200
MAX_NOTEBOOK_BYTES = 20 * 2**20  # code_fingerprint of a path

_AUTOGRAD_WORDS = (".backward(", "autograd", "enable_grad", "set_grad_enabled", "requires_grad")
_AUTOGRAD_NAMES = {"backward", "autograd", "enable_grad", "set_grad_enabled", "requires_grad", "requires_grad_"}
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


def uses_autograd(source: str) -> bool:
    """Whether a function's source uses autograd: `.backward(`, `autograd`, `enable_grad`, `set_grad_enabled`,
    `requires_grad`. Read from the syntax tree when the code parses, so comments and docstrings ("without
    autograd") do not count; otherwise the text is searched as it is."""
    if not isinstance(source, str):
        return False
    source = source[:MAX_SOURCE_CHARS]
    tree = _parse(source)
    if tree is None:
        return any(word in source for word in _AUTOGRAD_WORDS)
    for node in ast.walk(tree):
        word = (
            node.attr
            if isinstance(node, ast.Attribute)
            else node.id
            if isinstance(node, ast.Name)
            else node.arg
            if isinstance(node, ast.keyword)
            else node.name
            if isinstance(node, ast.alias)
            else None
        )
        if isinstance(word, str) and any(part in _AUTOGRAD_NAMES for part in word.split(".")):
            return True
    return False


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


def _notebook_cells(path) -> list | None:
    try:
        path = Path(path)
        if path.is_symlink() or path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return None
        with open(path, "rb") as file:
            data = json.loads(file.read(MAX_NOTEBOOK_BYTES + 1).decode("utf-8-sig"))
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


def code_fingerprint(cells_or_path) -> str:
    """sha256 of the code cells' sources with all whitespace removed (outputs, markdown and layout ignored).
    Accepts a list of cell dicts or a notebook's path (read with a size cap); "" when it cannot be read."""
    cells = cells_or_path if isinstance(cells_or_path, list) else _notebook_cells(cells_or_path)
    if cells is None:
        return ""
    digest = hashlib.sha256()
    for source in _cell_sources(cells):
        digest.update("".join(source.split()).encode("utf-8", "surrogatepass") + b"\x00")
    return digest.hexdigest()
