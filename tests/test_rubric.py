"""A0's Gradescope test cases: one weighted unittest method a rubric line, made from the rubric's lines when the cases
are loaded (each line is declared once, in assignments/a0/rubric.py; grader/scoring/testcase.py `line_cases`)."""

from assignments.a0.rubric import ASSIGNMENT
from grader.kit import line_cases


def load_tests(loader, tests, pattern):
    """unittest's hook: the cases of the lines the assignment holds now."""
    return loader.loadTestsFromTestCase(line_cases(ASSIGNMENT))
