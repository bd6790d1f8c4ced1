"""A stand-in `google.colab`: most students work on Colab, and its calls (mounting Drive, uploading files) must not
cost them points. Each call does nothing and leaves a note; any submodule (`google.colab.patches`, ...) exists.

An "am I on Colab?" check sees a local Jupyter, as the notebook would on the student's own machine: the stand-in
is imported only on demand (so `"google.colab" in sys.modules` is false), and an import of it inside a `try` that
catches the ImportError (`try: import google.colab; IN_COLAB = True except ImportError: ...`) fails as it does
outside Colab."""

import ast
import importlib
import importlib.abc
import importlib.machinery
import sys
import types

CHECK_HANDLERS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def install(note) -> None:
    def skipped(name):
        def call(*args, **kwargs):
            note(f"Colab-only call `google.colab.{name}()` skipped (the grader does not run on Colab).")
            return {} if name == "files.upload" else None

        return call

    def fill(mod, **functions):
        mod.__dict__.update(functions)
        mod.__path__ = []  # a package: `import google.colab.anything` reaches the finder below

        def other(attr):  # google.colab's other submodules; any other function of a submodule
            if attr.startswith("__"):
                raise AttributeError(attr)
            if mod.__name__ == "google.colab":
                return importlib.import_module(f"google.colab.{attr}")
            return skipped(f"{mod.__name__.split('.', 2)[-1]}.{attr}")

        mod.__getattr__ = other

    known = {
        "google.colab.drive": {"mount": skipped("drive.mount")},
        "google.colab.files": {"upload": skipped("files.upload"), "download": skipped("files.download")},
    }

    class Loader(importlib.abc.Loader):
        def create_module(self, spec):
            return None

        def exec_module(self, module):
            fill(module, **known.get(module.__name__, {}))

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if fullname == "google.colab" or fullname.startswith("google.colab."):
                return importlib.machinery.ModuleSpec(fullname, Loader(), is_package=True)
            return None

    google = sys.modules.get("google") or types.ModuleType("google")
    if not hasattr(google, "__path__"):
        google.__path__ = []
    sys.modules.setdefault("google", google)
    sys.meta_path.insert(0, Finder())


class LocalImportCheck(ast.NodeTransformer):
    """IPython runs it on every cell: `import google.colab` directly in a `try` that catches its ImportError raises
    ModuleNotFoundError, as outside Colab. So does the import of a package the grader has only a stand-in for
    (grader/child/stand_ins.py): a notebook that guards it takes its own branch without the package. `note` tells
    the student once."""

    def __init__(self, note, stand_ins=()) -> None:
        self.note = note
        self.stand_ins = frozenset(stand_ins)

    def visit_Try(self, node):
        self.generic_visit(node)
        catching = [handler for handler in node.handlers if _catches_import_error(handler.type)]
        if catching:
            # a handler that raises would turn an import the notebook may not use into a failed cell
            stand_ins = frozenset() if any(_raises(handler) for handler in catching) else self.stand_ins
            node.body = [self._fail(stmt, stand_ins) for stmt in node.body]
        return node

    visit_TryStar = visit_Try

    def _fail(self, stmt, stand_ins):
        name = _imports_colab(stmt) or _imports(stmt, stand_ins)
        if not name:
            return stmt
        if name == "google.colab":
            self.note(
                "`import google.colab` inside a `try` failed, as it does outside Colab: the notebook took its "
                "non-Colab branch (as on your own machine)."
            )
        else:
            self.note(
                f"`import {name}` inside a `try` failed: {name} is not installed on the grader (this assignment does "
                "not need it), so the notebook took its branch without it."
            )
        raise_stmt = ast.parse(f"raise ModuleNotFoundError(\"No module named '{name}'\", name='{name}')")
        return ast.copy_location(raise_stmt.body[0], stmt)


def _imports_colab(stmt) -> str:
    def colab(name):
        return name == "google.colab" or (name or "").startswith("google.colab.")

    if isinstance(stmt, ast.Import):
        found = any(colab(alias.name) for alias in stmt.names)
    elif isinstance(stmt, ast.ImportFrom) and not stmt.level:
        found = colab(stmt.module) or (stmt.module == "google" and any(a.name == "colab" for a in stmt.names))
    else:
        found = False
    return "google.colab" if found else ""


def _imports(stmt, tops) -> str:
    """The first of these top-level modules that the statement imports, or ""."""
    if isinstance(stmt, ast.Import):
        names = [alias.name for alias in stmt.names]
    elif isinstance(stmt, ast.ImportFrom) and not stmt.level:
        names = [stmt.module or ""]
    else:
        return ""
    return next((name.partition(".")[0] for name in names if name.partition(".")[0] in tops), "")


def _raises(handler) -> bool:
    return any(isinstance(node, ast.Raise) for node in ast.walk(handler))


def _catches_import_error(kind) -> bool:
    if kind is None:
        return True
    if isinstance(kind, ast.Tuple):
        return any(_catches_import_error(item) for item in kind.elts)
    name = kind.attr if isinstance(kind, ast.Attribute) else getattr(kind, "id", None)
    return name in CHECK_HANDLERS
