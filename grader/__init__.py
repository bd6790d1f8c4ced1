"""The grading engine: it grades the assignment that Settings.assignment names (assignments/, grader/assignment.py).

assignment.py  what the engine knows of an assignment (its probes, rubric lines, tests, notebook name, hints)
settings.py    every timeout and limit, declared once; the command line is built from it (__main__.py)
grade.py       one grading: lease a sandbox user, copy the upload, run the children, score, write results.json
notebook/      finds and reads the submitted notebook; used only inside the confined children, never runs its code
sandbox/       parent: leases the sandbox user, copies the upload, starts the children and collects their reports
child/         the only code that runs next to student code, inside the children (the reader and the runner)
records.py     what a child may report: the events' types and JSON schema
version.py     the grader's version, one per assignment; secret.py the course's secret; landlock.py: Landlock here?
scoring/       parent: the scoring loop over the assignment's unittest cases, the words for students, results.json
markdown.py    student-derived text made inert; terminal.py prints a results.json's summary
batch.py, report/  TA tools: regrade a class, its reports and feedback pages (not part of the grader's version);
                   one.py grades one notebook with its feedback page (make grade)
"""
