"""What `make batch` writes for the course staff besides grades.csv: flags, answers, the class report, feedback pages.

TA tools only: not shipped to Gradescope, and left out of the grader's version (grader/version.py)."""
