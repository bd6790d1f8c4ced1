"""The submission being graded, as the Gradescope test cases see it: plain data only."""
from dataclasses import dataclass


@dataclass
class Session:
    located: object = None     # notebook.locate.Located
    notebook: object = None    # notebook.extract.Notebook
    run: object = None         # sandbox.launch.ChildRun
    probes: dict = None        # the inputs the grader chose (scoring.inputs)
    problem: str = None        # why the submission could not be graded at all


_current = Session(problem="The grader was started without a submission.")


def current() -> Session:
    return _current


def use(session: Session):
    global _current
    _current = session
