"""What torch itself saw while a probe ran: whether autograd's engine evaluated backward functions, on any thread of
the process (records.Autograd). torch's profiler, limited to backward functions, is the instrument: it sees
`.backward()`, `torch.autograd.grad`, `torch.func`, the engine's own entry points and grad_fn nodes called by hand,
whatever name they were reached by, on every thread (one the notebook started included). Light: torch is passed in.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

os.environ.setdefault("KINETO_LOG_LEVEL", "6")  # the profiler otherwise writes a line to stderr at each start and stop

MAX_NODES = 1_000_000
MAX_NAMES = 8
MARK = "a0-probe-call"  # the calling thread's mark: which thread is the grader's


@contextmanager
def autograd_runs(torch) -> Iterator[dict]:
    """`with autograd_runs(torch) as seen:` ... afterwards `seen` holds {"nodes", "other_threads", "names"}, or nothing
    when torch could not observe (another profiler was already running, or the notebook stopped this one)."""
    seen: dict = {}
    try:
        _start(torch)
        started = True
    except Exception:  # noqa: BLE001  -- e.g. the notebook left a profiler running: no observation
        started = False
    if not started:
        yield seen
        return
    mark = _mark(torch)
    try:
        yield seen
    finally:
        try:
            if mark is not None:
                mark.__exit__(None, None, None)
            seen.update(_events(torch, torch._C._autograd._disable_profiler()))
        except Exception:  # noqa: BLE001  -- the notebook stopped the profiler itself
            seen.clear()


def _start(torch) -> None:
    from torch._C import _profiler as P

    config = P.ProfilerConfig(
        P.ProfilerState.KINETO,
        False,
        False,
        False,
        False,
        False,
        P._ExperimentalConfig(profile_all_threads=True),
    )
    activities = {P.ProfilerActivity.CPU}
    torch._C._autograd._prepare_profiler(config, activities)
    torch._C._autograd._enable_profiler(config, activities, {P.RecordScope.BACKWARD_FUNCTION, P.RecordScope.USER_SCOPE})


def _mark(torch):
    """The calling thread's mark, entered (its event says which thread is the grader's); None if it cannot be."""
    try:
        mark = torch.autograd.profiler.record_function(MARK)
        mark.__enter__()
        return mark
    except Exception:  # noqa: BLE001
        return None


def _events(torch, result) -> dict:
    from torch._C._profiler import RecordScope

    user, backward = int(RecordScope.USER_SCOPE), int(RecordScope.BACKWARD_FUNCTION)  # type: ignore[call-overload]  # event.scope() is an int
    caller, nodes, names, threads = None, 0, list[str](), set[int]()
    for event in result.events():
        if event.scope() == user:
            if event.name() == MARK and caller is None:
                caller = event.start_thread_id()
            continue
        if event.scope() != backward:
            continue
        nodes += 1
        threads.add(event.start_thread_id())
        name = "".join(c for c in str(event.name())[:80] if c.isascii() and (c.isalnum() or c in "_:."))
        if name and name not in names and len(names) < MAX_NAMES:
            names.append(name)
    return {"nodes": min(nodes, MAX_NODES), "other_threads": bool(threads - {caller}), "names": names}
