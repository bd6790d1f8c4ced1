"""Stand-ins for the packages a student's environment (Colab) has and the grader does not install: the assignment's
`Packages.stand_ins` (grader/assignment.py). `import pandas as pd`, `from sklearn.metrics import accuracy_score` and
`import sklearn.model_selection` succeed, as on Colab; only a use (a call, an operation, a value read) fails, where
the notebook uses the package, with ModuleNotFoundError naming it (scoring/feedback.py explains it to the student).

The finder comes last on sys.meta_path, so an installed package, or the student's own `pandas.py`, is imported
instead. A module outside the list fails as it does on Colab. `isinstance(x, pd.DataFrame)` is False: nothing can be
an instance of a package that is not there."""

import importlib.abc
import importlib.machinery
import os
import sys
import sysconfig
from types import FrameType

# Library code (Python's own, installed packages) probing an optional dependency (`try: import scipy`) is told the
# truth, as on a machine without it: only the notebook's code (its cells, its own modules) gets a stand-in.
_LIBRARIES = tuple(
    {
        os.path.join(real(sysconfig.get_paths()[key]), "")
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        for real in (str, os.path.realpath)
    }
)
_IMPORTLIB = os.path.join(os.path.dirname(importlib.__file__), "")


class Missing:
    """What a stand-in module's attribute is: any attribute of it is another, and using it raises the error."""

    __slots__ = ("_path",)

    def __init__(self, path: str) -> None:
        object.__setattr__(self, "_path", path)

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # protocols probed by Python, numpy, copy, inspect: not a use
        return Missing(f"{object.__getattribute__(self, '_path')}.{name}")

    def __repr__(self) -> str:
        return f"<{object.__getattribute__(self, '_path')}: not installed on the grader>"

    def __instancecheck__(self, obj) -> bool:
        return False

    def __subclasscheck__(self, cls) -> bool:
        return False

    def _use(self, *args, **kwargs):
        path = object.__getattribute__(self, "_path")
        top = path.partition(".")[0]
        raise ModuleNotFoundError(f"No module named '{top}' ({path} was used)", name=top)


_USES = """call getitem setitem delitem iter aiter len contains bool int float complex index str format bytes
enter exit aenter aexit await setattr delattr mro_entries array fspath round trunc floor ceil lt le gt ge neg pos
abs invert add radd sub rsub mul rmul matmul rmatmul truediv rtruediv floordiv rfloordiv mod rmod pow rpow and rand
or ror xor rxor lshift rlshift rshift rrshift divmod rdivmod""".split()
for _name in _USES:
    setattr(Missing, f"__{_name}__", Missing._use)


class _Loader(importlib.abc.Loader):
    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        name = module.__name__

        def attribute(attr: str):
            if attr.startswith("__") and attr != "__version__":
                raise AttributeError(f"module {name!r} has no attribute {attr!r}")
            return Missing(f"{name}.{attr}")

        module.__getattr__ = attribute  # type: ignore[method-assign]


class Finder(importlib.abc.MetaPathFinder):
    def __init__(self, modules) -> None:
        self.modules = frozenset(modules)

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname.partition(".")[0] not in self.modules or _by_library():
            return None
        spec = importlib.machinery.ModuleSpec(fullname, _Loader(), is_package=True)
        spec.submodule_search_locations = []
        return spec


def install(modules) -> None:
    """Stand-ins for these top-level module names, after every real finder."""
    if modules:
        sys.meta_path.append(Finder(modules))


def _by_library() -> bool:
    """Whether the import was asked for by library code rather than by the notebook's."""
    frame: FrameType | None = sys._getframe(1)
    for _ in range(100):
        if frame is None:
            return False
        name = frame.f_code.co_filename
        if not (name.startswith("<frozen importlib") or name.startswith(_IMPORTLIB) or name == __file__):
            return name.startswith(_LIBRARIES)
        frame = frame.f_back
    return False
