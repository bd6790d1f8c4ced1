"""Sentences a student can act on (Markdown), built from what the child reported: the engine's words for students
(the assignment adds its own through Assignment.hint and its checks).

Every piece of student-derived text (error messages, tracebacks, cell lines, names) goes through markdown.py, so it
renders as plain text. Causes are followed to the first one: a NameError for a name that a failed cell should have
defined names that cell.
"""

import builtins
import posixpath
import re
import signal

from ..markdown import code_block, inline_code
from .submission import Submission


class CheckFailed(Exception):
    """The check failed or could not look at the work; the message says why, for the student."""


NO_SUBMISSION = "No submission was found (the grader was given a path that does not exist)."
INTERRUPTED = (
    "Grading was interrupted (the grader was stopped) before it finished; this is not your fault. Please tell the "
    "course staff."
)
GRADER_FAILED = (
    "The autograder itself failed while grading this submission; this is not your fault. Please tell the course staff."
)


def left_out(fact: tuple, settings) -> str:
    """A note on what of the upload was not copied for the child (sandbox/scratch.py's facts)."""
    if fact[0] == "link":
        return f"{inline_code(fact[1])} is a link; it was not copied."
    if fact[0] == "deep":
        return f"Folders deeper than {settings.upload_depth} levels were not copied."
    return (
        f"Your submission has more than {settings.upload_files} files or {settings.upload_bytes // 2**20} MB; the "
        "rest was not copied."
    )


GRADER_FAILED_TEST = "The grader itself failed on this test; this is not your fault. Please tell the course staff."


def not_started(exit_code) -> str:
    return (
        f"The grader could not start the process that runs notebooks (exit code {exit_code}); this is a problem of "
        "the autograder, not of your notebook. Please tell the course staff."
    )


def unreadable(sub: Submission) -> str | None:
    """Why the notebook could not be graded, from the reader: it alone reads the notebook for the parent."""
    reading = sub.reading_report
    if reading.isolation is None:  # no student code runs before a child reports it is ready
        return not_started(sub.reading.exit_code if sub.reading else None)
    if reading.ungradable:  # what to fix, in the reader's words (notebook/locate.py, notebook/read.py)
        return reading.ungradable
    if reading.notebook is None:  # the reader ran out of time or memory, or hit Python's recursion limit
        return (
            "Your notebook could not be read within the grader's limits (it is too large or too deeply nested). "
            "Clear the outputs (Edit > Clear All Outputs), save, download it again and upload that file."
        )
    return None


def ending(sub: Submission) -> str:
    """How the notebook's process ended, in words a student understands."""
    run, settings = sub.run, sub.settings
    if run is None or run.stopped == "cancelled":
        return "The notebook was not run."
    if run.stopped == "run_timeout":
        return (
            f"The notebook did not finish within the grader's time limit of "
            f"{settings.total_timeout:.0f} s{_where(sub, run.running, ' (', ' was running)')}, so it was stopped."
        )
    if run.stopped == "watchdog":
        what = _running_text(sub, run.running) if run.running else "A cell"
        limit = {"cell": settings.cell_timeout, "probe": settings.probe_timeout}.get(
            run.running[0] if run.running else "cell", settings.read_timeout
        )
        return (
            f"{what[0].upper() + what[1:]} ran past its {limit:.0f} s limit and did not stop when "
            "interrupted, so the notebook's process was stopped."
        )
    if run.finished:
        return "The notebook ran to the end."
    if run.report.isolation is None:  # no student code runs before the child reports it is ready
        return not_started(run.exit_code)
    where = _where(sub, run.running, "during ", "") or "after the last cell"
    code = run.exit_code
    if code is not None and code < 0:
        why: dict[int, str] = {
            signal.SIGSEGV: "crashed (segmentation fault)",
            signal.SIGXCPU: "used up its CPU time",
            signal.SIGKILL: f"was killed (it may have gone over the {sub.memory_mb} MB memory limit)",
            signal.SIGABRT: "aborted",
            signal.SIGXFSZ: "wrote a file larger than allowed",
        }
        return (
            f"The notebook's process {why.get(-code, f'was stopped by signal {-code}')} {where}, before "
            "the grader could finish its checks."
        )
    return (
        f"The notebook's process ended {where}, with exit code {code} (does it call `os._exit` or "
        "`os.kill`?), before the grader could finish its checks."
    )


def _where(sub: Submission, running, before: str, after: str) -> str:
    return f"{before}{_running_text(sub, running)}{after}" if running else ""


def _running_text(sub: Submission, running: tuple) -> str:
    kind, name = running
    if kind == "cell":
        return f"cell {name}"
    if kind == "read":
        return "the reading of the notebook"
    probe = sub.assignment.probe.get(name)
    return f"the grader's call of {probe.called}" if probe else "the grader's checks"


def record(sub: Submission, probe: str) -> dict:
    """The child's record for `probe`, or CheckFailed with the first cause in the student's terms."""
    declared = sub.assignment.probe[probe]
    if sub.problem:
        raise CheckFailed(sub.problem)
    data = sub.report.records.get(probe)
    if data is None:
        extra = "".join(f"\n\n{channel_problem(p)}" for p in sub.report.problems)
        raise CheckFailed(f"{ending(sub)} The grader could not check {declared.called}.{extra}")
    if "missing" in data:  # the message is the parent's own: the child's text is not shown
        name = declared.needs[0]
        near = ((sub.notebook or {}).get("near") or {}).get(name)
        if near:  # the reader's: a cell defines a name a slip away
            defines = " and ".join(f"cell {cell} defines {inline_code(other)}" for other, cell in near)
            raise CheckFailed(
                f"`{name}` is not defined when the notebook has finished running, but {defines}: did you mean "
                f"`{name}`? The grader calls `{name}`, the name the handout gives."
            )
        raise CheckFailed(
            f"`{name}` is not defined when the notebook has finished running."
            + _renamed(name, data["missing"])
            + defining_cell_hint(sub, name)
        )
    if "error" in data:
        raise CheckFailed(f"Calling {declared.called} raised {error_text(sub, data['error'])}")
    return data


def _renamed(name: str, missing: str) -> str:
    """The child names the notebook's objects whose names are close to the missing one (`forward_pass`): checked to
    be identifiers, shown inert."""
    similar = [n for n in missing.partition(": ")[2].split(", ") if re.fullmatch(r"[A-Za-z_]\w{0,60}", n)][:3]
    if not similar:
        return ""
    return (
        f" Your notebook defines {', '.join(map(inline_code, similar))}: the grader calls {inline_code(name)}, the "
        "name the handout gives, so keep that name."
    )


def channel_problem(problem: tuple) -> str:
    """What the parent noticed on the child's channel, in words (channel.py records only a code)."""
    code, *detail = problem
    if code == "twice":
        return f"The grader received two answers for its call of {inline_code(detail[0])}; neither was used."
    if code == "too_much":
        return "The notebook's process sent more data than the grader accepts; the rest was ignored."
    if code == "unended":
        return f"The notebook's process did not report how cell {detail[0]} ended (its reporting was changed)."
    if code == "not_apart":
        return (
            "The grader did not call the notebook's functions: it calls them only apart from the threads the notebook "
            "started, and the notebook's process could not be paused for that."
        )
    if code == "too_long":
        return "The notebook's process sent a line longer than the grader accepts; it was ignored."
    return "The grader received data it did not send (the notebook wrote to the grader's channel); it was ignored."


def error_text(sub: Submission, error: dict, with_cause: bool = True) -> str:
    """`Type: message` (cell, line), a plain-words hint, the student's own traceback, and the first cause."""
    where = ""
    if error.get("cell"):
        where = f" (cell {error['cell']}" + (f", line {error['line']})" if error.get("line") else ")")
    text = f"{inline_code(error['type'] + ': ' + _one_line(error['message']))}{where}."
    hint = plain_words(sub, error)
    if hint:
        text += f" {hint}"
    if error.get("traceback"):
        text += "\n\n" + code_block(error["traceback"].rstrip()[-3000:])
    cause = first_cause(sub, error) if with_cause else None
    if cause:
        text += f"\n\n**First cause:** {cause}"
    return text


def out_of_memory(error: dict) -> bool:
    """Python's MemoryError, or torch's C++ allocator failing (std::bad_alloc, DefaultCPUAllocator)."""
    message = error.get("message", "")
    return error.get("type") == "MemoryError" or "bad_alloc" in message or "can't allocate memory" in message


def plain_words(sub: Submission, error: dict) -> str:
    kind, message = error.get("type", ""), error.get("message", "")
    if out_of_memory(error):
        return (
            f"The notebook ran out of memory: the grader allows {sub.memory_mb} MB. Look for a tensor or list "
            "that grows without bound."
        )
    missing_file = _not_uploaded(sub, error)
    if missing_file:
        return missing_file
    if kind == "EOFError" and message == "EOF when reading a line":  # input()'s own (pickle.load's is another)
        return "`input()` cannot be answered during grading: remove it, or give the value in the code."
    if kind == "Timeout" and error.get("cell") in sub.skipped:
        return (
            "The cell catches the grader's interrupt (a bare `except:` or `except BaseException:` around a long "
            "loop), so it could not be stopped at its limit; the notebook was run again from a fresh start without "
            "that cell. Catch `Exception` instead, and use a fixed number of steps."
        )
    if kind == "Timeout":
        return (
            "Use a fixed number of steps (for example `for step in range(10000):`), not a loop that waits for "
            "a condition that may never come."
        )
    if (
        kind in ("ConnectionError", "URLError", "gaierror", "ConnectionRefusedError", "HTTPError")
        or "Name or service not known" in message
        or "Temporary failure in name resolution" in message
    ):
        return "The grader has no internet: the notebook must not download anything."
    if "'ellipsis' object" in message or kind == "TypeError" and "ellipsis" in message:
        return "A `...` placeholder is left in the code: replace it with your own."
    if kind == "SyntaxError" and message == "incomplete input":
        return (
            "The cell ends in the middle of a statement: for example a `def` with only a comment under it, or "
            "an unclosed bracket."
        )
    if kind == "ModuleNotFoundError" and message.startswith("No module named '"):
        return missing_package(sub, message)
    if "not compiled with CUDA" in message or "NVIDIA driver" in message or "CUDA driver" in message:
        return (
            "The grader, like Gradescope, has no GPU. Choose the device with "
            '`device = torch.device("cuda" if torch.cuda.is_available() else "cpu")` and use `.to(device)` instead '
            "of `.cuda()`."
        )
    return sub.assignment.hint(sub, error) if sub.assignment.hint else ""


def _not_uploaded(sub: Submission, error: dict) -> str:
    """A FileNotFoundError for a file the upload does not hold (the parent's own list of what it copied)."""
    path = error.get("filename")
    if error.get("type") != "FileNotFoundError" or not isinstance(path, str) or sub.upload is None or not path:
        return ""
    relative = posixpath.normpath(path.replace("\\", "/"))
    if any(posixpath.basename(f) == posixpath.basename(relative) for f in sub.upload):
        return ""  # uploaded (in another folder?): cannot tell
    if relative.startswith(("/", "~")) or re.match(r"[A-Za-z]:/", relative):
        return (
            f"{inline_code(path)} is not in your upload: the grader has only the files you upload, in a folder of "
            "its own, so a path on your computer or on Colab's Drive does not exist there. Upload the file with the "
            "notebook and open it by its relative path (for example `open('data.csv')`)."
        )
    if relative.startswith("../"):
        return ""  # outside the upload's folder: what is there is not the student's to know
    return (
        f"{inline_code(path)} is not in your upload: the grader runs the notebook in a folder holding only the "
        "files you upload. Upload that file too (in the same folder layout), or do not load it."
    )


_TRACEBACK = re.compile(r'^(`{3,})\n  File ".*?\n\1$', re.DOTALL | re.MULTILINE)  # error_text's code_block


def one_traceback(outputs: list) -> list:
    """The outputs of the tests, in rubric order, with a traceback (error_text's code block of the student's
    frames) shown once: a later test that would show the same one says where it is instead."""
    first: dict = {}
    done = []
    for number, text in outputs:

        def once(match, number=number):
            shown = first.setdefault(match.group(0), number)
            return match.group(0) if shown == number else f"(Same cause as test {shown}: its traceback is shown there.)"

        done.append(_TRACEBACK.sub(once, text))
    return done


def missing_package(sub: Submission, message: str) -> str:
    """A module the grader does not have, in the student's terms: a package of the assignment's stand-ins (its use
    failed: grader/child/stand_ins.py), else one the assignment does not declare at all."""
    match = re.match(r"No module named '([A-Za-z_][\w.]{0,100})'(?: \(([A-Za-z_][\w.]{0,1000}) was used\))?$", message)
    if not match:
        return ""
    top, used = match.group(1).partition(".")[0], match.group(2)
    packages = sub.assignment.packages
    if top in packages.installed:
        return ""  # a submodule of an installed package: Python's message says it all
    if top in packages.stand_ins:
        use = f"it ({inline_code(used[:120])})" if used else "it"
        return (
            f"The package {inline_code(packages.stand_ins[top])} is not installed on Gradescope's grader, and this "
            f"assignment does not need it. Importing it is fine (as on Colab), but your code uses {use}: remove that "
            f"use (and the import, if nothing else needs it), then check with Kernel > Restart & Run All."
        )
    return (
        f"{inline_code(top)} is not installed on Gradescope's grader (it is not a package this assignment uses): if "
        "the notebook does not need it, remove the import; if it is a `.py` file of your own, upload it beside the "
        "notebook."
    )


def first_cause(sub: Submission, error: dict) -> str | None:
    """For a NameError: the first cell that should have defined the name and failed."""
    match = re.match(r"name '([A-Za-z_]\w*)' is not defined", error.get("message", ""))
    if error.get("type") != "NameError" or not match:
        return None
    name = match.group(1)
    for number, end in sorted(sub.report.cells.items()):
        if name in end.get("defines", []) and number != error.get("cell"):
            what = f"raised {error_text(sub, end['error'], with_cause=False) if end.get('error') else 'no error'}"
            if end["status"] == "exit":
                verb, advice = exit_words(end)
                what = f"{verb} before defining it{advice}"
            text = (
                f"cell {number} ({inline_code(end.get('first_line', ''))}), which defines {inline_code(name)}, {what}"
            )
            root = same_cause(sub, end) if end.get("error") else None
            if root is None:
                return text
            cause = sub.report.cells[root]
            return (
                f"cell {root} ({inline_code(cause.get('first_line', ''))}) raised "
                f"{error_text(sub, cause['error'], with_cause=False)}\n\nCell {number}, which defines "
                f"{inline_code(name)}, failed from the same cause."
            )
    if error.get("cell") and name not in dir(builtins):
        return (
            f"no cell above defines {inline_code(name)} (no cell that failed did either). If it existed in your "
            "session, from a cell you deleted or changed, or from a cell further down, a fresh run (Kernel > "
            f"Restart & Run All) does not have it: define {inline_code(name)} in a cell above, then check with "
            "Restart & Run All."
        )
    return None


def same_cause(sub: Submission, end: dict) -> int | None:
    """The earlier failed cell a NameError follows from (it should have defined the name), followed back to the first
    one: the summary lists the later failures as "same cause"."""
    root = None
    for _ in range(1000):  # each step goes to an earlier cell
        error = end.get("error") or {}
        match = re.match(r"name '([A-Za-z_]\w*)' is not defined", error.get("message", ""))
        if error.get("type") != "NameError" or not match:
            break
        earlier = [n for n, e in sorted(sub.report.cells.items()) if n < end["cell"] and e.get("error")]
        cause = next((n for n in earlier if match.group(1) in sub.report.cells[n].get("defines", [])), None)
        if cause is None:
            break
        root, end = cause, sub.report.cells[cause]
    return root


def defining_cell_hint(sub: Submission, name: str) -> str:
    cells = (sub.notebook or {}).get("definitions", {}).get(name, [])
    for number in reversed(cells):
        end = sub.report.cells.get(number)
        if end and end.get("error"):
            return f"\n\nCell {number}, which defines `{name}`, raised {error_text(sub, end['error'])}"
        if number > sub.report.last_cell:
            return f"\n\nCell {number}, which defines `{name}`, did not run."
        if end and end["status"] == "exit":
            verb, advice = exit_words(end)
            return f"\n\nCell {number}, which defines `{name}`, {verb} before the definition{advice}."
        return ""
    return f"\n\nNo cell of the notebook defines `{name}`."


def exit_words(end: dict) -> tuple:
    """(what happened, the advice) for a cell that raised SystemExit, from the runner's cell_end event."""
    if end.get("exit_by") == "argparse":
        return (
            "was ended by argparse (`SystemExit` in `parse_args()`)",
            ": `parse_args()` reads the command line, and a notebook has no command line arguments for your parser;"
            " in a notebook write `parser.parse_args(args=[])`",
        )
    return "called `exit()`", ""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:300]
