"""The assignments the grading engine (grader/) grades, one package each; Settings.assignment names the one in use."""
