"""Scoring, in the parent: the seed of the inputs, the loop over the assignment's weighted unittest cases, the words
for students (feedback.py), and results.json. The reference values and checks are the assignment's (assignments/).

Nothing here runs student code; it only reads the plain data the children reported.
"""
