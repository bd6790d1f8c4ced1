"""A0's rubric: its probes and lines, each declared once (grader/assignment.py says what a Probe and a Line hold).

A Line names its number, name (`{tolerance}` in it is written as the line's tolerance, so that no title states an
old threshold), points, visibility ("visible" (default), "hidden", "after_due_date", "after_published"), the probe
whose record it reads, the check that scores it (checks.py) and its tolerance. A Probe is what the child calls
(probes.py) on the inputs the parent draws (inputs.py); probes run in the order given here. Each line is scored by
one weighted test case made from it (tests/test_rubric.py). docs/authoring.md shows the steps.
"""

from pathlib import Path

from grader.kit import Assignment, Flag, Line, Probe, Reading

from . import checks, hints, inputs, probes, readings, staff
from .handout import HANDOUT_CODE
from .packages import PACKAGES

ROOT = Path(__file__).resolve().parents[2]

# fmt: off
PROBE_LIST = [  # `model` first: the other probes overwrite notebook globals
    Probe("model", ("model",), "your trained `model`", inputs.model, probes.model),
    Probe("toymodel", ("ToyModel",), "`ToyModel()`", inputs.toymodel, probes.toymodel),
    Probe("forward", ("forward",), "`forward(x)`", inputs.forward, probes.forward),
    Probe("backprop", ("backprop",), "`backprop(X)`", inputs.backprop, probes.backprop),
]
PROBES = {probe.name: probe for probe in PROBE_LIST}

# fmt: off
LINES = [
    Line("1.1", "Exercise 1: forward(x) returns a tensor of shape (N, 2)", 1, checks.forward_shape, "forward"),
    Line("1.2", "Exercise 1: forward(x) computes sigmoid(relu(x W1 + B1) W2 + B2) within {tolerance}", 2,
         checks.forward_values, "forward", tolerance=1e-5),  # largest absolute difference of outputs
    Line("2.1", "Exercise 2: backprop(X) returns four gradients shaped like W1, B1, W2, B2", 1,
         checks.gradient_shapes, "backprop"),
    Line("2.2", "Exercise 2: W2 and B2 gradients match autograd within {tolerance}", 2,
         checks.output_layer_gradients, "backprop", tolerance=1e-4),  # norm of the difference to autograd's
    Line("2.3", "Exercise 2: W1 and B1 gradients match autograd within {tolerance}", 2,
         checks.hidden_layer_gradients, "backprop", tolerance=1e-4),
    Line("3", "Exercise 3: your answer (graded by hand by the course staff)", 0, checks.exercise3_answer),
    Line("4.1", "Exercise 4: ToyModel holds two nn.Linear layers, 3->4 and 4->2", 2, checks.toymodel_structure,
         "toymodel"),
    Line("4.2", "Exercise 4: ToyModel computes sigmoid(L2(relu(L1(x)))) within {tolerance}", 1,
         checks.toymodel_output, "toymodel", tolerance=1e-5),
    Line("5.1", "Exercise 5: the trained model reaches an MSE below {tolerance} on the toy data", 4,
         checks.trained_model, "model", tolerance=0.01),  # the MSE must be below this
]
# fmt: on
RUBRIC = {line.number: line for line in LINES}

STDOUT_VISIBILITY = "hidden"  # the grader's own log; Gradescope shows it to instructors only
LEADERBOARD = None  # checks.leaderboard adds a leaderboard column "MSE" (lowest first); None: no leaderboard
# Autograd in `backprop` is seen two ways: the reader finds it in the code `backprop` reaches (the lines are the
# evidence) and the runner sees autograd's engine run while the grader calls it (torch's profiler). Only when both
# saw it is the student told; "flag" (default) flags it for the course staff either way, "zero" also scores 2.2 and
# 2.3 at 0 when both saw it. One observation alone is for the staff only and never costs points.
AUTOGRAD_IN_BACKPROP = "flag"

READINGS = [  # what the reader finds in the notebook's text (readings.py), never by running it
    Reading(name, getattr(readings, name), schema) for name, schema in readings.SCHEMAS.items()
]
FLAGS = [
    Flag("autograd_in_backprop", "autograd in backprop",
         "backprop (Exercise 2) appears to use autograd (seen by the reader in its code, by the runner while the "
         "grader called it, or both); 2.2 and 2.3 "
         + ("scored 0 when both saw it" if AUTOGRAD_IN_BACKPROP == "zero"
            else "kept their points, for the course staff to review"),
         staff.autograd_used),
]  # fmt: skip

ASSIGNMENT = Assignment(
    probes=tuple(PROBE_LIST),
    lines=tuple(LINES),
    tests=ROOT / "tests",
    solution=ROOT / "solution" / "A0.ipynb",
    template=ROOT / "source" / "A0.ipynb",
    notebook="A0.ipynb",
    handout_code=HANDOUT_CODE,
    stdout_visibility=STDOUT_VISIBILITY,
    leaderboard=LEADERBOARD,
    options={"autograd_in_backprop": AUTOGRAD_IN_BACKPROP},
    title="A0",
    readings=tuple(READINGS),
    flags=tuple(FLAGS),
    by_hand="3",
    answer=staff.answer,
    cause=staff.cause,
    hint=hints.hint,
    packages=PACKAGES,
)
