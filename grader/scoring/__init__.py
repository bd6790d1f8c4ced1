"""Scoring, in the parent: the grader's own inputs and reference values, the checks, and results.json.

Nothing here runs student code; it only reads the plain data the child reported.
"""
