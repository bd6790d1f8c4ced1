"""The child's scratch folder: a copy of the submission's regular files, owned by the sandbox user.

The parent only copies bytes (it never parses them): iteratively, without following links, and within bounds on
depth, number of files and size, so that no upload can make it recurse, loop or fill the disk. The copy's digest
seeds the grader's inputs (scoring/inputs.py).
"""

import hashlib
import os
import stat
import tempfile
from pathlib import Path

from ..settings import Settings
from .cleanup import remove_tree


class Scratch:
    def __init__(self, submission: Path, uid: int | None, gid: int | None, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self.max_bytes, self.max_files, self.max_depth = (
            settings.upload_bytes,
            settings.upload_files,
            settings.upload_depth,
        )
        self.path = Path(tempfile.mkdtemp(prefix="a0-sandbox-"))
        self.left_out: list = []  # what was not copied, as facts: ("link", path), ("deep",), ("large",)
        self.files: set = set()  # the copied files, relative posix paths
        self.digest = hashlib.sha256()
        self.owner = None if uid is None else (uid, -1 if gid is None else gid)  # -1: the group unchanged
        root = submission if submission.is_dir() else submission.parent
        only = None if submission.is_dir() else submission.name
        try:
            self._copy(root, only)
            self._own(self.path)
        except BaseException:
            remove_tree(self.path)  # a copy that failed halfway is not left behind
            raise

    def _own(self, path: Path) -> None:
        """Each copied folder and file belongs to the sandbox user as soon as it is made."""
        if self.owner is not None:
            os.chown(path, *self.owner, follow_symlinks=False)

    def _copy(self, root: Path, only: str | None) -> None:
        total, files = 0, 0
        todo = [(Path(), 0)]
        while todo:
            relative, depth = todo.pop()
            try:
                entries = sorted(os.scandir(root / relative), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                if only is not None and (entry.name != only or depth):
                    continue
                rel = relative / entry.name
                if entry.is_symlink():
                    self.left_out.append(("link", rel.as_posix()))
                elif entry.is_dir(follow_symlinks=False):
                    if entry.name in ("__MACOSX", ".git"):
                        continue
                    if depth + 1 >= self.max_depth:
                        self.left_out.append(("deep",))
                        continue
                    (self.path / rel).mkdir(mode=0o700)
                    self._own(self.path / rel)
                    todo.append((rel, depth + 1))
                elif stat.S_ISREG((info := entry.stat(follow_symlinks=False)).st_mode):
                    files += 1
                    total += info.st_size
                    if files > self.max_files or total > self.max_bytes:
                        self.left_out.append(("large",))
                        return
                    self._copy_file(root / rel, self.path / rel, rel)
                    self.files.add(rel.as_posix())

    def _copy_file(self, source: Path, target: Path, rel: Path) -> None:
        # Jupyter's checkpoint copies (graded only when no notebook is uploaded) leave the inputs as they were
        digest = self.digest.copy() if ".ipynb_checkpoints" in rel.parts else self.digest
        digest.update(rel.as_posix().encode("utf-8", "surrogateescape") + b"\0")
        with open(source, "rb") as src, open(target, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                digest.update(chunk)
                dst.write(chunk)
        self._own(target)
