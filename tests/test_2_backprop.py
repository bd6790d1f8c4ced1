"""Exercise 2: the hand-written backward pass, compared with autograd's gradients."""

from assignments.a0.rubric import RUBRIC
from grader.scoring.testcase import CheckCase, rubric_line


class TestBackprop(CheckCase):
    @rubric_line(RUBRIC["2.1"])
    def test_shapes(self):
        self.check()

    @rubric_line(RUBRIC["2.2"])
    def test_output_layer(self):
        self.check()

    @rubric_line(RUBRIC["2.3"])
    def test_hidden_layer(self):
        self.check()
