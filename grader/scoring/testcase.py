"""The base class of the Gradescope test cases in tests/: each test method scores one rubric line."""

import unittest
from collections.abc import Callable

import timeout_decorator
from gradescope_utils.autograder_utils.decorators import number, weight

from ..rubric import RUBRIC
from .feedback import CheckFailed

CHECK_SECONDS = 60  # a check only reads plain data; one that runs this long is the grader's bug


def rubric_line(key: str) -> Callable:
    """Give a test method its rubric line's number, weight and name (the method body calls `self.check()`)."""
    line = RUBRIC[key]

    def decorate(method):
        method.__doc__ = line.name
        method.rubric_line = line
        return number(line.number)(weight(line.points)(method))

    return decorate


class CheckCase(unittest.TestCase):
    maxDiff = None
    submission = None  # the graded Submission, set by scoring/results.py before the cases run

    def check(self) -> None:
        """Pass with what the line's check verified, or fail with what was wrong (both shown to the student)."""
        line = getattr(self, self._testMethodName).rubric_line
        try:
            message = timeout_decorator.timeout(CHECK_SECONDS, use_signals=True)(line.check)(self.submission, line)
        except CheckFailed as failure:
            self.fail(str(failure))
        print(message)
