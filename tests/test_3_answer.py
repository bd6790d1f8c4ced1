"""Exercise 3: the written answer, shown for the course staff to grade by hand."""

from grader.scoring.testcase import CheckCase, rubric_line


class TestAnswer(CheckCase):
    @rubric_line("3")
    def test_answer(self):
        self.check()
