"""Exercise 5: the trained model, re-checked by the grader on its own copy of the toy data."""

from assignments.a0.rubric import RUBRIC
from grader.scoring.testcase import CheckCase, rubric_line


class TestTraining(CheckCase):
    @rubric_line(RUBRIC["5.1"])
    def test_trained_model(self):
        self.check()
