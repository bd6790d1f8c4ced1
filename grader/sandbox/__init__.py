"""The sandbox: the child process that runs student code, and the parent's control of it.

launch.py   parent: starts the child, feeds it the cells, collects its reports, enforces the timeouts
cleanup.py  parent: kills every process the child left behind
channel.py  parent: reads and validates the child's reports (plain JSON data, never pickles)
identity.py parent: which unprivileged user runs the child, and hiding the grader's files from it
"""
