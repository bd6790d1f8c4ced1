"""The rubric: every test's number, name, points and visibility, in one place.

Visibility: "visible" (default), "hidden", "after_due_date" or "after_published".
"""
from dataclasses import dataclass

from gradescope_utils.autograder_utils.decorators import number, weight


@dataclass(frozen=True)
class Item:
    number: str
    name: str
    points: float
    visibility: str = "visible"


RUBRIC = {item.number: item for item in (
    Item("1.1", "Exercise 1: forward(x) returns a tensor of shape (N, 2)", 1),
    Item("1.2", "Exercise 1: forward(x) computes sigmoid(relu(x W1 + B1) W2 + B2)", 2),
    Item("2.1", "Exercise 2: backprop(X) returns four gradients shaped like W1, B1, W2, B2", 1),
    Item("2.2", "Exercise 2: W2 and B2 gradients match autograd", 2),
    Item("2.3", "Exercise 2: W1 and B1 gradients match autograd", 2),
    Item("3", "Exercise 3: your answer (graded by hand by the course staff)", 0),
    Item("4.1", "Exercise 4: ToyModel holds two nn.Linear layers, 3->4 and 4->2", 2),
    Item("4.2", "Exercise 4: ToyModel computes sigmoid(L2(relu(L1(x))))", 1),
    Item("5.1", "Exercise 5: the trained model reaches an MSE below 0.01 on the toy data", 4),
)}

STDOUT_VISIBILITY = "hidden"   # the grader's own log; Gradescope shows it to instructors only
LEADERBOARD = False            # True adds a leaderboard column: final MSE, lowest first

# Tolerances of the checks
FORWARD_TOLERANCE = 1e-5       # largest absolute difference of outputs
GRADIENT_TOLERANCE = 1e-4      # norm of the difference to autograd's gradient
MSE_THRESHOLD = 0.01


def rubric_item(key: str):
    """Decorate a test method with its rubric line's number, weight and name.

    Visibility is applied from RUBRIC when results.json is written, so it can be changed in one place."""
    item = RUBRIC[key]

    def decorate(method):
        method.__doc__ = item.name
        return number(item.number)(weight(item.points)(method))
    return decorate
