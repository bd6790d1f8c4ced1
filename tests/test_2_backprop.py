"""Exercise 2: the hand-written backward pass, compared with autograd's gradients."""
from grader.rubric import rubric_item
from grader.scoring import checks
from grader.scoring.testcase import CheckCase


class TestBackprop(CheckCase):
    @rubric_item("2.1")
    def test_shapes(self):
        self.grade(checks.gradient_shapes)

    @rubric_item("2.2")
    def test_output_layer(self):
        self.grade(checks.output_layer_gradients)

    @rubric_item("2.3")
    def test_hidden_layer(self):
        self.grade(checks.hidden_layer_gradients)
