"""Make an assignment's template (the handout students get) from its solution notebook: `make template`.

The solution is the one source; its markers say what the students do not get (as nbgrader's and otter-assign's do):
- in a code cell, the lines from `### BEGIN SOLUTION` to `### END SOLUTION` (both marker lines included) are left
  out; a line ending in `# SOLUTION` is left out; a line ending in `# BLANK` keeps what is left of its `=`
  (`z1 = x @ W1 + B1  # BLANK` becomes `z1 =`, for the student to complete);
- a cell (a markdown answer) whose metadata holds `"template": "text"` gets that text as its source.
Outputs and execution counts are cleared. `--check` writes nothing: exit 1 when the template is not what the solution
gives. Exit 2 when the assignment (`--assignment`, default the course's) declares no solution or template.
"""

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
_BEGIN, _END = re.compile(r"^\s*### BEGIN SOLUTION\s*$"), re.compile(r"^\s*### END SOLUTION\s*$")
_DROP = re.compile(r"\s*# SOLUTION\s*$")
_BLANK = re.compile(r"^(\s*[^=]*?\S)\s*=(?!=).*#\s*BLANK\s*$")
_MARK = re.compile(r"\s*# (SOLUTION|BLANK)\s*$")


def template(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The template made from `solution` (a copy: `solution` is not changed)."""
    notebook = nbformat.from_dict(solution)
    for cell in notebook.cells:
        if "template" in cell.metadata:
            cell.source = cell.metadata.pop("template")
        elif cell.cell_type == "code":
            cell.source = _code(cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook


def unmarked(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """`solution` without its markers (a copy): the notebook a student who solved everything would hand in."""
    notebook = nbformat.from_dict(solution)
    for cell in notebook.cells:
        cell.metadata.pop("template", None)
        if cell.cell_type == "code":
            lines = [line for line in cell.source.split("\n") if not (_BEGIN.match(line) or _END.match(line))]
            cell.source = "\n".join(_MARK.sub("", line) for line in lines)
    return notebook


def _code(source: str) -> str:
    kept, inside = [], False
    for line in source.split("\n"):
        if _BEGIN.match(line) or _END.match(line):
            inside = bool(_BEGIN.match(line))
        elif inside or _DROP.search(line):
            continue
        elif _BLANK.match(line):
            kept.append(_BLANK.sub(r"\1 =", line))
        else:
            kept.append(line)
    return "\n".join(kept)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="make template", description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", help="the module holding ASSIGNMENT (default: the course's)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the template differs")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from grader.assignment import AuthoringError, load

    try:
        assignment = load(args.assignment)
    except AuthoringError as error:
        parser.exit(2, f"make template: {error}\n")
    solution, target = assignment.solution, assignment.template
    if solution is None or target is None:
        parser.exit(
            2, "make template: declare the notebooks in the Assignment: solution=Path(...), template=Path(...)\n"
        )
    if not Path(solution).is_file():
        parser.exit(2, f"make template: the solution notebook {solution} does not exist: write it, or fix solution=.\n")
    text = nbformat.writes(template(nbformat.read(solution, as_version=4))) + "\n"
    if args.check:
        same = Path(target).is_file() and Path(target).read_text(encoding="utf-8") == text
        print(f"{target}: {'as' if same else 'NOT as'} {solution} gives it" + ("" if same else "; run `make template`"))
        return 0 if same else 1
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text(text, encoding="utf-8")
    print(f"{target}: made from {solution}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
