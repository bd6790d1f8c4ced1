"""Exercise 1: the hand-written forward pass."""

from assignments.a0.rubric import RUBRIC
from grader.scoring.testcase import CheckCase, rubric_line


class TestForward(CheckCase):
    @rubric_line(RUBRIC["1.1"])
    def test_shape(self):
        self.check()

    @rubric_line(RUBRIC["1.2"])
    def test_values(self):
        self.check()
