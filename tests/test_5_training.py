"""Exercise 5: the trained model, re-checked by the grader on its own copy of the toy data."""

from grader.scoring.testcase import CheckCase, rubric_line


class TestTraining(CheckCase):
    @rubric_line("5.1")
    def test_trained_model(self):
        self.check()
