"""A stand-in `google.colab`: most students work on Colab, and its calls (mounting Drive, uploading files) must not
cost them points. Each call does nothing and leaves a note."""

import sys
import types


def install(note) -> None:
    def skipped(name):
        def call(*args, **kwargs):
            note(f"Colab-only call `google.colab.{name}()` skipped (the grader does not run on Colab).")
            return {} if name == "files.upload" else None

        return call

    def module(name, **functions):
        mod = types.ModuleType(name)
        mod.__dict__.update(functions)

        def other(attr):  # any other Colab function
            if attr.startswith("__"):
                raise AttributeError(attr)
            return skipped(f"{name.split('.', 2)[-1]}.{attr}")

        mod.__getattr__ = other
        return mod

    colab = module("google.colab")
    colab.drive = module("google.colab.drive", mount=skipped("drive.mount"))
    colab.files = module("google.colab.files", upload=skipped("files.upload"), download=skipped("files.download"))
    colab.output = module("google.colab.output")
    google = sys.modules.get("google") or types.ModuleType("google")
    if not hasattr(google, "__path__"):
        google.__path__ = []
    google.colab = colab
    sys.modules.setdefault("google", google)
    for name in ("drive", "files", "output"):
        sys.modules[f"google.colab.{name}"] = getattr(colab, name)
    sys.modules["google.colab"] = colab
