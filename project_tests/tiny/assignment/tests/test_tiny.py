"""The tiny assignment's weighted cases: one a rubric line."""

from grader.scoring.testcase import CheckCase, rubric_line

from ..rubric import ASSIGNMENT

LINE = ASSIGNMENT.rubric


class TestTiny(CheckCase):
    @rubric_line(LINE["1"])
    def test_scale(self):
        self.check()

    @rubric_line(LINE["2"])
    def test_w(self):
        self.check()
