"""Exercise 1: the hand-written forward pass."""

from grader.scoring.testcase import CheckCase, rubric_line


class TestForward(CheckCase):
    @rubric_line("1.1")
    def test_shape(self):
        self.check()

    @rubric_line("1.2")
    def test_values(self):
        self.check()
