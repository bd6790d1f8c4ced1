"""TEMPORARY (replaced by the issue9-text branch): what a cell's source defines and does, without running it."""
import ast
import hashlib
import re


def defined_names(source: str) -> list:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    names = []
    for node in _top_level(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [(a.asname or a.name).split(".")[0] for a in node.names]
    return list(dict.fromkeys(names))[:200]


def uses_autograd(source: str) -> bool:
    return bool(re.search(r"\.backward\(|autograd|enable_grad|set_grad_enabled|requires_grad", source))


def seeds_before(source: str, name: str = "model") -> bool:
    seed = re.search(r"manual_seed\s*\(|\.seed\s*\(", source)
    assign = re.search(rf"^\s*{name}\s*=", source, re.M)
    return bool(seed and (assign is None or seed.start() < assign.start()))


def code_fingerprint(cells) -> str:
    digest = hashlib.sha256()
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            digest.update(re.sub(r"\s+", "", source).encode("utf-8", "replace") + b"\0")
    return digest.hexdigest()


def _top_level(tree):
    todo = list(tree.body)
    while todo:
        node = todo.pop(0)
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
