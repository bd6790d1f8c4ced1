"""A0's Gradescope test cases: one weighted unittest method a rubric line, made from the rubric's lines (each line is
declared once, in assignments/a0/rubric.py; grader/scoring/testcase.py `line_cases`)."""

from assignments.a0.rubric import ASSIGNMENT
from grader.kit import line_cases

TestRubric = line_cases(ASSIGNMENT)
