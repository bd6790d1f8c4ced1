"""Every hint names the true cause, from a fact the grader established for this notebook (issue 26): each test writes
the notebook of one slip and checks the exact words the student reads, and the words that must not be there."""

import json

import pytest
from conftest import (
    BACKPROP,
    FORWARD,
    FULL_MARKS,
    TOYMODEL,
    TRAINING,
    cell_number,
    code_cells,
    edit_cell,
    output_of,
    solution,
)

from assignments.a0 import hints, slips
from assignments.a0.rubric import RUBRIC
from grader.notebook.read import near_misses
from grader.scoring.feedback import _not_uploaded, one_traceback
from grader.scoring.submission import Submission

EXERCISE_2_HINT = "The grader calls `backprop(X)` under `torch.no_grad()`"
DATA_ADVICE = "Do not generate or change `X` and `Y`"


def _lost(*numbers) -> float:
    return FULL_MARKS - sum(RUBRIC[n].points for n in numbers)


def test_training_under_no_grad_gets_the_training_hint_not_exercise_2s(grade_notebook):
    nb = solution(steps=3)
    source = code_cells(nb)[TRAINING - 1].source
    head, loop = source.split("for step", 1)
    indented = "\n".join("    " + line for line in ("for step" + loop).split("\n"))
    code_cells(nb)[TRAINING - 1].source = head + "with torch.no_grad():\n" + indented
    line = 1 + code_cells(nb)[TRAINING - 1].source.split("\n").index("        loss.backward()")
    results = grade_notebook(nb)
    assert results["score"] == _lost("5.1"), results["output"]
    message = output_of(results, "5.1")
    assert message.startswith(
        f"Cell {TRAINING}, which trains `model` (Exercise 5), did not finish: it raised `RuntimeError: element 0 of "
        f"tensors does not require grad and does not have a grad_fn` (cell {TRAINING}, line {line}). Line {line} "
        "calls `.backward()` inside `with torch.no_grad():`, where PyTorch records no gradients, so there is nothing "
        "to backpropagate: train outside `torch.no_grad()` (remove it around the training loop).\n\n```"
    ), message
    assert EXERCISE_2_HINT not in message and "Exercise 2" not in message


def test_bias_gradients_as_means_name_the_division_and_2_3_does_not_blame_2_2(grade_notebook):
    nb = edit_cell(solution(), BACKPROP, "B2_grad = z2_grad.sum(0)", "B2_grad = z2_grad.mean(0)")
    edit_cell(nb, BACKPROP, "B1_grad = z1_grad.sum(0)", "B1_grad = z1_grad.mean(0)")
    results = grade_notebook(nb)
    assert results["score"] == _lost("2.2", "2.3"), results["output"]
    mean = (
        "is the right gradient divided by the number of rows of `X` (a mean over the rows where the loss "
        "`((y_hat - Y)**2).sum()` sums them?). With the grader's own weights, `X` and `Y`, your gradients differ "
        "from autograd's gradients of `((y_hat - Y)**2).sum()`:\n\n"
    )
    assert output_of(results, "2.2").startswith(f"`B2_grad` {mean}- `W2_grad`: distance"), output_of(results, "2.2")
    assert output_of(results, "2.3").startswith(f"`B1_grad` {mean}- `W1_grad`: distance"), output_of(results, "2.3")
    for number in ("2.2", "2.3"):  # the grader's X has 25 rows, the student's 20: no batch size is named
        assert "Fix test 2.2 first" not in output_of(results, number) and "0.04" not in output_of(results, number)


def test_a_float64_default_is_said_before_any_advice_about_the_data(grade_notebook):
    nb = edit_cell(
        solution(steps=200, warm=False), 1, "import torch\n", "import torch\ntorch.set_default_dtype(torch.float64)\n"
    )
    results = grade_notebook(nb)
    assert results["score"] == _lost("5.1"), results["output"]
    message = output_of(results, "5.1")
    assert message.startswith(
        "Your `X` is a float64 tensor (cell 1, line 2: `torch.set_default_dtype`), while the handout's toy data is "
        "float32: in float64, `torch.manual_seed(0)` then `X, Y = generate_data(20)` draws other numbers, so your "
        "model was trained on other data than the toy data the grader checks it on. Keep PyTorch's default dtype, "
        "float32 (remove `torch.set_default_dtype(torch.float64)`).\n\nThe MSE of your trained `model` on the toy "
        "data is "
    ), message
    assert DATA_ADVICE not in message and "not the toy data of the handout" not in message


def test_an_extra_layer_is_named_in_4_2_and_5_1_gives_the_mse(grade_notebook):
    nb = solution(steps=300, warm=False)
    edit_cell(
        nb,
        TOYMODEL,
        "self.linear2 = nn.Linear(4, 2)",
        "self.hidden = nn.Linear(4, 4)\n        self.linear2 = nn.Linear(4, 2)",
    )
    edit_cell(nb, TOYMODEL, "torch.relu(self.linear1(x))", "torch.relu(self.hidden(torch.relu(self.linear1(x))))")
    results = grade_notebook(nb)
    assert results["score"] == _lost("4.1", "4.2", "5.1"), results["output"]
    assert output_of(results, "4.2").startswith(
        "A new `ToyModel()`'s output differs from sigmoid(L2(relu(L1(x)))) computed with its 3->4 and 4->2 layers "
        "alone by up to "
    )
    assert output_of(results, "4.2").endswith(
        ", and it holds the extra `nn.Linear` layer(s) (4->4) that test 4.1 names: the network is exactly 3->4->2."
    )
    assert "Check the order" not in output_of(results, "4.2")
    trained = output_of(results, "5.1")
    assert trained.startswith(
        "The notebook's final `model` holds 3 `nn.Linear` layer(s) (3->4, 4->4, 4->2); expected exactly two: 3->4 "
        "and 4->2. The extra layer(s) must go: the network is exactly 3->4->2.\n\nYour trained `model` ran: its "
        "output on the toy data has an MSE of "
    ), trained
    assert trained.endswith(" (below 0.01 passes once the network is exactly 3->4->2).")


def test_a_model_that_is_not_the_formula_still_gets_its_mse(grade_notebook):
    nb = edit_cell(solution(), TOYMODEL, "torch.relu(self.linear1(x))", "self.linear1(x)")
    results = grade_notebook(nb)
    assert results["score"] == _lost("4.2", "5.1"), results["output"]
    assert "Check the order" in output_of(results, "4.2")  # no extra layer: the order or a function is the cause
    trained = output_of(results, "5.1")
    assert trained.startswith(
        "`model(X)` does not equal sigmoid(L2(relu(L1(X)))) computed with the model's own layers (largest difference "
    ), trained
    assert "\n\nYour trained `model` ran: its output on the toy data has an MSE of " in trained
    assert trained.endswith(" (below 0.01 passes once it computes that).")


def test_nn_sigmoid_called_as_a_function_is_explained_with_one_traceback(grade_notebook):
    nb = edit_cell(solution(), TOYMODEL, "return torch.sigmoid(", "return nn.Sigmoid(")
    results = grade_notebook(nb)
    assert results["score"] == _lost("4.2", "5.1"), results["output"]
    words = (
        f"raised `TypeError: Sigmoid.__init__() takes 1 positional argument but 2 were given` (cell {TOYMODEL}, line "
        "10). `nn.Sigmoid` is a layer class, not a function: `nn.Sigmoid(t)` tries to create a layer with `t` as its "
        "setting. Call `torch.sigmoid(t)`, or create the layer once in `__init__` (`self.sigmoid = nn.Sigmoid()`) "
        "and call it in `forward` (`self.sigmoid(t)`).\n\n"
    )
    assert output_of(results, "4.2").startswith(f"Calling a new `ToyModel()` on `x` of shape (9, 3) {words}```")
    assert output_of(results, "5.1") == (
        f"Calling your `model(X)` on the toy data {words}(Same cause as test 4.2: its traceback is shown there.)"
    )


def test_linear_layers_built_in_forward_are_said_so(grade_notebook):
    nb = solution()
    code_cells(nb)[TOYMODEL - 1].source = (
        "class ToyModel(nn.Module):\n    def __init__(self):\n        super().__init__()\n\n"
        "    def forward(self, x):\n        linear1 = nn.Linear(3, 4)\n        linear2 = nn.Linear(4, 2)\n"
        "        return torch.sigmoid(linear2(torch.relu(linear1(x))))\n"
    )
    results = grade_notebook(nb)
    assert results["score"] == _lost("4.1", "4.2", "5.1"), results["output"]
    why = (
        f"holds 0 `nn.Linear` layer(s) (none): the `forward` of `ToyModel` creates its `nn.Linear` layers (cell "
        f"{TOYMODEL}, lines 6, 7), so they are new random layers at every call, not part of the model, and training "
        "cannot change them. Create them once in `__init__` (`self.linear1 = nn.Linear(3, 4)`) and use them in "
        "`forward` (`self.linear1(x)`)."
    )
    assert output_of(results, "4.1") == f"`ToyModel()` {why}"
    assert output_of(results, "5.1").startswith(f"The notebook's final `model` {why}\n\nYour trained `model` ran: ")


def test_a_near_miss_of_a_required_name_is_named(grade_notebook):
    results = grade_notebook(edit_cell(solution(), FORWARD, "def forward(", "def foward("))
    assert results["score"] == _lost("1.1", "1.2"), results["output"]
    assert output_of(results, "1.1") == (
        f"`forward` is not defined when the notebook has finished running, but cell {FORWARD} defines `foward`: did "
        "you mean `forward`? The grader calls `forward`, the name the handout gives."
    )


def test_a_file_that_is_not_in_the_upload_is_said_in_those_words(grade_notebook):
    nb = edit_cell(
        solution(),
        TRAINING,
        "with torch.no_grad():",
        "model.load_state_dict(torch.load('toy_model.pt'))\nwith torch.no_grad():",
    )
    results = grade_notebook(nb)
    assert results["score"] == _lost("5.1"), results["output"]
    assert output_of(results, "5.1").startswith(
        f"Cell {TRAINING}, which trains `model` (Exercise 5), did not finish: it raised `FileNotFoundError: [Errno 2] "
        f"No such file or directory: 'toy_model.pt'` (cell {TRAINING}, line 3). `toy_model.pt` is not in your "
        "upload: the grader runs the notebook in a folder holding only the files you upload. Upload that file too "
        "(in the same folder layout), or do not load it.\n\n```"
    )


def test_transposed_weights_are_named_and_each_traceback_shown_once(grade_notebook):
    nb = solution()
    weights = cell_number(nb, "W1 = torch.randn")
    edit_cell(nb, weights, "W1 = torch.randn(3, 4)", "W1 = torch.randn(4, 3)")
    edit_cell(nb, weights, "W2 = torch.randn(4, 2)", "W2 = torch.randn(2, 4)")
    for cell in (FORWARD, BACKPROP):
        edit_cell(nb, cell, "z1 = x @ W1 + B1", "z1 = x @ W1.T + B1")
        edit_cell(nb, cell, "z2 = h @ W2 + B2", "z2 = h @ W2.T + B2")
    results = grade_notebook(nb)
    assert results["score"] == _lost("1.1", "1.2", "2.1", "2.2", "2.3"), results["output"]
    transposed = (
        f"Your notebook makes `W1` of shape (4, 3) (cell {weights}, line 2) and `W2` of shape (2, 4) (cell {weights}, "
        "line 4), the transpose of the handout's: the grader calls `forward` and `backprop` with weights in the "
        "handout's shapes, `W1` (3, 4), `B1` (1, 4), `W2` (4, 2), `B2` (1, 2). Keep the handout's cell as it is "
        "(`W1 = torch.randn(3, 4) * 0.2`, ...) and write `x @ W1`."
    )
    forward = output_of(results, "1.1")
    assert forward.startswith(
        "For `x` of shape (N, 3) with N = 1, 7, 33, `forward(x)` raised at the same line each time; for N = 1: "
        f"`RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x3 and 4x3)` (cell {FORWARD}, line 3).\n\n```"
    ), forward
    assert forward.endswith(f"```\n\n{transposed}") and forward.count("```") == 2
    assert output_of(results, "2.1").startswith("`backprop(X)` raised `RuntimeError: mat1 and mat2 shapes")
    assert output_of(results, "2.1").endswith(f"```\n\n{transposed}")
    for number in ("2.2", "2.3"):
        assert output_of(results, number).startswith("Same cause as test 2.1: `backprop(X)` raised `RuntimeError")
        assert "```" not in output_of(results, number)


# -- what decides each hint, without running a notebook
def test_the_reader_finds_each_slip_at_its_cell_and_line():
    cells = [
        (
            1,
            "import torch\nfrom torch import nn\ntorch.set_default_dtype(torch.float64)\n"
            "torch.set_default_tensor_type(torch.FloatTensor)",
        ),
        (2, "W1 = torch.randn(4, 3) * 0.2\nW2 = torch.randn(2, 4).T * 0.2"),  # W2 turned back: not a slip
        (3, "with torch.no_grad():\n    for i in range(3):\n        loss.backward()\nloss.backward()"),
        (4, "class Net(nn.Module):\n    def forward(self, x):\n        return nn.Sigmoid(nn.Linear(3, 4)(x))"),
        (5, "act = nn.ReLU(True)\nsoft = nn.Softmax(1)\ny = torch.nn.Tanh(x)"),
        (6, "W2 = torch.randn(2, 4)\nW2 = torch.randn(4, 2)"),  # the last assignment counts
        (7, "class Lazy(nn.Module):\n    def forward(self, x):\n        self.l1 = nn.Linear(3, 4)\n        return x"),
    ]
    assert slips.find(cells) == {
        "no_grad_backward": [[3, 3]],
        "layer_called": [[4, 3, "Sigmoid"], [5, 3, "Tanh"]],
        "layers_in_forward": [["Net", 4, 3]],
        "default_dtype": [[1, 3]],
        "transposed": [["W1", 2, 1]],
    }


def test_a_near_miss_is_a_slip_away_not_any_similar_name():
    code = [
        (1, "def foward(x): pass\ndef Backprop(x): pass\nforward_pass = 1\nforwards = 2"),
        (2, "def toymodel(): pass"),
    ]
    assert near_misses("forward", code) == [["foward", 1], ["forwards", 1]]
    assert near_misses("backprop", code) == [["Backprop", 1]]
    assert near_misses("ToyModel", code, names=("ToyModel", "toymodel")) == []
    assert near_misses("model", [(1, "modle = 1\nmode = 2\nmy_model = 3")]) == [["modle", 1], ["mode", 1]]
    assert near_misses("forward", [(1, "forwärd = 1\nföward = 2")]) == []  # the records take ASCII names only


@pytest.mark.parametrize(
    "path, words",
    [
        ("data/train.csv", "`data/train.csv` is not in your upload"),
        ("/content/drive/MyDrive/x.pt", "`/content/drive/MyDrive/x.pt` is not in your upload: the grader has only"),
        ("C:\\Users\\me\\x.pt", "`C:\\Users\\me\\x.pt` is not in your upload: the grader has only"),
        ("/tmp/elsewhere/weights.pt", ""),  # an absolute path to an uploaded file's name: cannot tell
        ("A0.ipynb", ""),  # uploaded: something else went wrong
        ("sub/weights.pt", ""),  # uploaded in another folder: cannot tell
        ("../x.csv", ""),
    ],
)
def test_a_missing_file_is_named_only_against_the_upload(path, words):
    sub = Submission(upload=frozenset({"A0.ipynb", "other/weights.pt"}))
    error = {"type": "FileNotFoundError", "message": "No such file", "filename": path}
    assert _not_uploaded(sub, error).startswith(words) and bool(words) == bool(_not_uploaded(sub, error))
    assert _not_uploaded(Submission(), error) == ""  # the upload unknown: nothing said


def test_a_traceback_is_shown_once_in_rubric_order():
    block = '```\n  File "cell 3", line 1, in f\n    x\nNameError: x\n```'
    evidence = "```\ncell 9, line 3: loss.backward()\n```"  # lines of the notebook, not a traceback: kept
    outputs = one_traceback(
        [("1.1", f"a\n\n{block}\n\n{evidence}"), ("1.2", f"b\n\n{block}\n\n{evidence}"), ("2.1", "c")]
    )
    assert outputs == [
        f"a\n\n{block}\n\n{evidence}",
        f"b\n\n(Same cause as test 1.1: its traceback is shown there.)\n\n{evidence}",
        "c",
    ]


def test_a_factor_is_named_by_what_it_divides_by():
    assert hints.gradient_factor(1 / 25, 25).startswith("is the right gradient divided by the number of rows of `X`")
    assert hints.gradient_factor(1 / 50, 25).startswith("is the right gradient divided by the number of values of")
    assert hints.gradient_factor(0.5, 25) == (
        "is exactly 0.5 times the right gradient (is the factor 2 of the squared error missing?)."
    )
    assert hints.gradient_factor(3.0, 25) == "is exactly 3 times the right gradient."


def test_the_slips_reading_meets_its_schema():
    from assignments.a0.rubric import ASSIGNMENT

    found = slips.find([(1, "import torch\ntorch.set_default_dtype(torch.float64)")])
    notebook = json.loads(json.dumps({"readings": {"slips": found}}))
    assert ASSIGNMENT.reading(notebook, "slips") == found
    assert ASSIGNMENT.reading({"readings": {"slips": {"default_dtype": [[1]]}}}, "slips") is None
