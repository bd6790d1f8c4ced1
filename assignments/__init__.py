"""The assignments the grading engine (grader/) grades, one package each. `DEFAULT` names the module holding the
course's (its `ASSIGNMENT`); `--assignment` or the environment variable GRADER_ASSIGNMENT name another."""

DEFAULT = "assignments.a0.rubric"
