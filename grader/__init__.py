"""The A0 autograder.

notebook/  finds and reads the submitted notebook (parent side, never executes it)
sandbox/   starts the confined child process and collects what it reports
child/     the only code that runs next to student code, inside the child
scoring/   reference values and checks; runs in the parent, never runs student code
"""
