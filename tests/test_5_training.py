"""Exercise 5: the trained model, re-checked by the grader on its own copy of the toy data."""
from grader.rubric import rubric_item
from grader.scoring import checks
from grader.scoring.testcase import CheckCase


class TestTraining(CheckCase):
    @rubric_item("5.1")
    def test_trained_model(self):
        self.grade(checks.trained_model)
