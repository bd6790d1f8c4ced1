"""Exercise 3: the written answer, shown for the course staff to grade by hand."""

from assignments.a0.rubric import RUBRIC
from grader.scoring.testcase import CheckCase, rubric_line


class TestAnswer(CheckCase):
    @rubric_line(RUBRIC["3"])
    def test_answer(self):
        self.check()
