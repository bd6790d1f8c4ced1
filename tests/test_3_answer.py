"""Exercise 3: the written answer, shown for the course staff to grade by hand."""
from grader.rubric import rubric_item
from grader.scoring import checks
from grader.scoring.testcase import CheckCase


class TestAnswer(CheckCase):
    @rubric_item("3")
    def test_answer(self):
        self.grade(checks.exercise3_answer)
