"""Exercise 4: the same network as an nn.Module."""
from grader.rubric import rubric_item
from grader.scoring import checks
from grader.scoring.testcase import CheckCase


class TestToyModel(CheckCase):
    @rubric_item("4.1")
    def test_structure(self):
        self.grade(checks.toymodel_structure)

    @rubric_item("4.2")
    def test_output(self):
        self.grade(checks.toymodel_output)
