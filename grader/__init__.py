"""The grading engine: it grades the assignment that Settings.assignment names (assignments/, grader/assignment.py).

assignment.py  what the engine knows of an assignment (its probes, rubric lines, tests)
notebook/      finds and reads the submitted notebook; runs in the confined reader child, never executes it
sandbox/       starts the confined children and collects what they report
child/         the only code that runs next to student code, inside the children
scoring/       the scoring loop, feedback wording and results.json; runs in the parent, never runs student code
"""
