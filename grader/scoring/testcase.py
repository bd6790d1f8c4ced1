"""The base class of the Gradescope test cases in tests/: each test method scores one rubric line."""

import unittest
from collections.abc import Callable

import timeout_decorator
from gradescope_utils.autograder_utils.decorators import number, weight

from .feedback import CheckFailed


def rubric_line(line) -> Callable:
    """Give a test method its rubric line's (grader.assignment.Line) number, weight and name (the method body calls
    `self.check()`)."""

    def decorate(method):
        method.__doc__ = line.name
        method.rubric_line = line
        return number(line.number)(weight(line.points)(method))

    return decorate


class CheckCase(unittest.TestCase):
    maxDiff = None

    def __init__(self, methodName: str = "runTest", submission=None) -> None:
        super().__init__(methodName)
        self.submission = submission  # the graded Submission, given by scoring/results.py's loader

    def check(self) -> None:
        """Pass with what the line's check verified, or fail with what was wrong (both shown to the student)."""
        line = getattr(self, self._testMethodName).rubric_line
        try:
            limit = timeout_decorator.timeout(self.submission.settings.check_seconds, use_signals=True)
            message = limit(line.check)(self.submission, line)
        except CheckFailed as failure:
            self.fail(str(failure))
        print(message)
