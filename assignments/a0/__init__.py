"""A0 (CSE447/517): a two-layer network by hand, its backward pass, the same as an nn.Module, and its training.

The engine loads `ASSIGNMENT` (grader/assignment.py); everything A0-specific lives in this package, and its weighted
unittest cases in the checkout's tests/ folder.
"""

from pathlib import Path

from grader.assignment import Assignment

from . import rubric
from .handout import HANDOUT_CODE

ASSIGNMENT = Assignment(
    probes=tuple(rubric.PROBE_LIST),
    lines=tuple(rubric.LINES),
    tests=Path(__file__).resolve().parents[2] / "tests",
    handout_code=HANDOUT_CODE,
    stdout_visibility=rubric.STDOUT_VISIBILITY,
    leaderboard=rubric.LEADERBOARD,
    options={"autograd_in_backprop": rubric.AUTOGRAD_IN_BACKPROP},
)
