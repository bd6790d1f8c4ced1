"""Exercise 1: the hand-written forward pass."""
from grader.rubric import rubric_item
from grader.scoring import checks
from grader.scoring.testcase import CheckCase


class TestForward(CheckCase):
    @rubric_item("1.1")
    def test_shape(self):
        self.grade(checks.forward_shape)

    @rubric_item("1.2")
    def test_values(self):
        self.grade(checks.forward_values)
