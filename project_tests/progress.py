"""`make test` says how far it is: every 30 s a line "suite: N/M tests done, 1m40s so far, about 2m10s left".

What is left is estimated from the tests' expected seconds (a slow marker's, else UNMARKED_SECONDS each) and the
rate at which they went: a finished test counts whole, a running one for the time it has run (at most its expected
seconds); the slow tests run first, and counting only finished ones made the first lines say 17 minutes.
Under pytest-xdist the tests run in the workers and only the controller prints: the first worker writes every test's
expected seconds to a file the controller named (A0_TEST_SECONDS)."""

import json
import os
import tempfile
import threading
import time

UNMARKED_SECONDS = 0.6  # an unmarked test's average: 0.61 s of wall time over 673 of them, four workers on two cores
EVERY_SECONDS = float(os.environ.get("A0_TEST_PROGRESS_SECONDS", 30))


def expected_seconds(item) -> float:
    return (getattr(item.get_closest_marker("slow"), "args", None) or [UNMARKED_SECONDS])[0]


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class Progress:
    """The controller's plugin (the only process with a terminal)."""

    def __init__(self, config):
        self.config = config
        self.started = time.monotonic()
        self.expected: dict = {}  # nodeid: seconds, once known
        self.done: set = set()
        self.running: dict = {}  # nodeid: when it started
        self.total = 0
        fd, self.path = tempfile.mkstemp(prefix="a0test-seconds-", suffix=".json")
        os.close(fd)
        os.environ["A0_TEST_SECONDS"] = self.path  # the workers, started after this, write it
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._every, daemon=True)

    def pytest_sessionstart(self):
        self.thread.start()

    def pytest_collection_finish(self, session):  # without xdist the tests are collected here
        self.total = len(session.items)
        self.expected = {item.nodeid: expected_seconds(item) for item in session.items}

    def pytest_xdist_node_collection_finished(self, node, ids):
        self.total = len(ids)

    def pytest_runtest_logstart(self, nodeid, location):
        with self.lock:
            self.running[nodeid] = time.monotonic()

    def pytest_runtest_logreport(self, report):
        if report.when == "teardown":
            with self.lock:
                self.done.add(report.nodeid)
                self.running.pop(report.nodeid, None)

    def pytest_sessionfinish(self):
        self.stop.set()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def line(self) -> str:
        now = time.monotonic()
        with self.lock:
            done, running = set(self.done), dict(self.running)
        elapsed = now - self.started
        if not self.expected:
            try:
                with open(self.path) as f:
                    self.expected = json.load(f)
            except (OSError, ValueError):
                pass
        total = sum(self.expected.values())
        finished = sum(self.expected.get(nodeid, UNMARKED_SECONDS) for nodeid in done) + sum(
            min(now - since, self.expected.get(nodeid, UNMARKED_SECONDS)) for nodeid, since in running.items()
        )
        left = (
            f"about {_duration(elapsed * (total - finished) / finished)} left" if finished and total else "estimating"
        )
        return f"suite: {len(done)}/{self.total} tests done, {_duration(elapsed)} so far, {left}"

    def _every(self):
        while not self.stop.wait(EVERY_SECONDS):
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None and self.total:  # once the tests are collected
                reporter.write_line(self.line())


def write_expected(items) -> None:
    """In the first worker (or the only process): every test's expected seconds, for the controller."""
    path = os.environ.get("A0_TEST_SECONDS")
    if path and os.environ.get("PYTEST_XDIST_WORKER", "gw0") == "gw0":
        temp = f"{path}.{os.getpid()}"
        with open(temp, "w") as f:
            json.dump({item.nodeid: expected_seconds(item) for item in items}, f)
        os.replace(temp, path)
