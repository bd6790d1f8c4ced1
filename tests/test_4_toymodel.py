"""Exercise 4: the same network as an nn.Module."""

from assignments.a0.rubric import RUBRIC
from grader.scoring.testcase import CheckCase, rubric_line


class TestToyModel(CheckCase):
    @rubric_line(RUBRIC["4.1"])
    def test_structure(self):
        self.check()

    @rubric_line(RUBRIC["4.2"])
    def test_output(self):
        self.check()
