"""The base class of the Gradescope test cases: one rubric check per test method."""
import unittest

from .feedback import CheckFailed


class CheckCase(unittest.TestCase):
    maxDiff = None

    def grade(self, check):
        """Pass with what the check verified, or fail with what was wrong (both shown to the student)."""
        try:
            message = check()
        except CheckFailed as failure:
            self.fail(str(failure))
        print(message)
