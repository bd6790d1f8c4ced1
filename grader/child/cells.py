"""Run the notebook's cells in one namespace, like Restart & Run All, but a failing cell does not stop the run."""
import builtins
import linecache
import os
import re
import signal
import sys
import time
import traceback
import types


class CellTimeout(BaseException):
    """Raised in the cell when its time is up. A BaseException, so `except Exception` in student code misses it."""


class time_limit:
    """`with time_limit(s):` raises CellTimeout in the block after s seconds, then again every half second.

    Python swallows an exception raised in an at-fork hook or a `__del__`, and in a fork loop the signal nearly
    always arrives during fork(), so its handler runs in such a hook; the exception is also raised again at the next
    line of a cell, by a trace function, which hooks never reach."""
    REPEAT = 0.5

    def __init__(self, seconds: float):
        self.seconds, self.armed, self.traced = seconds, False, False

    def __enter__(self):
        signal.signal(signal.SIGALRM, self._interrupt)
        self.armed = True
        signal.setitimer(signal.ITIMER_REAL, self.seconds, self.REPEAT)

    def __exit__(self, *exc_info):
        self.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        if self.traced:
            sys.settrace(None)

    def _interrupt(self, signum, frame):
        if self.armed and (frame is None or frame.f_code.co_filename != __file__):   # never inside __exit__
            sys.settrace(self._trace)
            self.traced = True
            while frame is not None:
                frame.f_trace = self._trace
                frame = frame.f_back
            raise CellTimeout()

    def _trace(self, frame, event, arg):
        if self.armed and _CELL_FILE.match(frame.f_code.co_filename):
            raise CellTimeout()
        return self._trace


CELL_FILE = "<cell {}>"
FULL_ERRORS = 20   # later failing cells are described briefly: the channel's budget must keep room for the checks
_OWNER, _getpid, _exit = os.getpid(), os.getpid, os._exit   # kept before student code can replace them
_CELL_FILE = re.compile(r"^<cell (\d+)>$")


def new_namespace() -> dict:
    main = types.ModuleType("__main__")   # pickling classes defined in the notebook needs a real __main__
    sys.modules["__main__"] = main
    namespace = main.__dict__
    namespace.update({"__builtins__": builtins, "get_ipython": lambda: _SHELL,
                      "display": lambda *objs, **_: print(*objs)})
    _SHELL.namespace = namespace
    return namespace


def run_cells(cells, namespace, reporter, timeout):
    failures = 0
    for cell in cells:
        number = cell["number"]
        filename = CELL_FILE.format(number)   # tracebacks show the student's own lines, magics included
        linecache.cache[filename] = (len(cell["source"]), None, cell["source"].splitlines(True), filename)
        reporter.send({"event": "cell_start", "cell": number})
        print(f"\n----- cell {number} -----", flush=True)
        started = time.monotonic()
        status, error = "ok", None
        try:
            code = compile_cell(cell["python"], number)
            with time_limit(timeout):
                exec(code, namespace)
        except SystemExit:
            status = "exit"    # as in Jupyter: exit() ends the cell, not the notebook
        except CellTimeout:
            status, error = "timeout", {"type": "Timeout", "message": f"cell {number} ran longer than {timeout:.0f} s",
                                        "cell": number, "line": None}
        except BaseException as exc:   # noqa: BLE001  -- a student's cell may raise anything
            status, error = "error", describe(exc, brief=failures >= FULL_ERRORS)
            failures += 1
        leave_if_forked()
        end = {"event": "cell_end", "cell": number, "status": status, "seconds": time.monotonic() - started}
        if error:
            end["error"] = error
        reporter.send(end)


def leave_if_forked():
    """A copy of this process forked by a cell comes back here when the cell ends: it must not go on."""
    if _getpid() != _OWNER:
        _exit(0)


def compile_cell(source: str, number: int, first_line: int = 1):
    return compile("\n" * (first_line - 1) + source, CELL_FILE.format(number), "exec")


def describe(exc: BaseException, brief: bool = False) -> dict:
    """The exception, with only the traceback frames that belong to the student's cells (none when brief)."""
    try:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if _CELL_FILE.match(f.filename)]
        cell = line = None
        if isinstance(exc, SyntaxError) and _CELL_FILE.match(exc.filename or ""):
            cell, line = int(_CELL_FILE.match(exc.filename).group(1)), exc.lineno
        elif frames:
            cell, line = int(_CELL_FILE.match(frames[-1].filename).group(1)), frames[-1].lineno
        text = "".join(traceback.format_list(frames[-5:]) + traceback.format_exception_only(type(exc), exc))
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)   # str() repeats file and line
        return {"type": type(exc).__name__[:200], "message": str(message)[:200 if brief else 2000], "cell": cell,
                "line": line, "traceback": "" if brief else text[-6000:]}
    except BaseException:   # noqa: BLE001  -- a hostile exception may fail even to print itself
        return {"type": "Exception", "message": "(the exception could not be described)", "cell": None,
                "line": None}


class _Shell:
    """Just enough of `get_ipython()` for the code IPython generates from magics and shell lines."""
    RUN = {"time", "timeit", "capture", "prun"}
    namespace: dict = {}

    def run_line_magic(self, name, line):
        if name in self.RUN:   # %timeit runs its statement once: its options (-n 100 -r 7) are dropped
            caller = sys._getframe(1)
            self._run(re.sub(r"^(\s*-\w+(\s+\d+)?)*\s*", "", line) if name == "timeit" else line,
                      caller, caller.f_lineno)

    def run_cell_magic(self, name, line, body):
        if name in self.RUN:
            self._run(body, sys._getframe(1), 2)   # the body starts on the line after %%magic

    def _run(self, code, caller, first_line):
        match = _CELL_FILE.match(caller.f_code.co_filename)
        exec(compile_cell(code, int(match.group(1)) if match else 0, first_line), self.namespace)

    def system(self, command):
        return None

    def getoutput(self, command):
        return []


_SHELL = _Shell()
