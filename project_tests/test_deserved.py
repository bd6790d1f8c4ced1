"""Every honest notebook gets the score its work deserves, and words that never contradict it.

Each test writes a notebook with one idiom or mistake a real student makes, and checks the score it deserves and the
first sentence of the test that names the real cause."""

import json
import os
import subprocess

import nbformat
import pytest
from conftest import (
    FULL_MARKS,
    RUN_AUTOGRADER,
    cell_number,
    code_cells,
    edit_cell,
    grade,
    output_of,
    sandbox_user,
    save,
    solution,
)
from markdown_it import MarkdownIt

from assignments.a0.rubric import RUBRIC

TRAINING_LOST = FULL_MARKS - RUBRIC["5.1"].points


def _insert_before(nb, number: int, source: str):
    code = code_cells(nb)
    nb.cells.insert(nb.cells.index(code[number - 1]), nbformat.v4.new_code_cell(source))
    return nb


def _training(nb) -> int:
    return cell_number(nb, "torch.manual_seed(0)\nmodel = ToyModel()")


# -- scores follow the work
def test_a_float64_notebook_is_called_in_its_own_dtype(grade_notebook):
    nb = solution()
    edit_cell(nb, cell_number(nb, "X, Y = generate_data(20)"), "(20)\n", "(20)\nX, Y = X.double(), Y.double()\n")
    edit_cell(
        nb,
        cell_number(nb, "W1 = torch.randn"),
        "B2 = torch.randn(1, 2) * 0.2",
        "B2 = torch.randn(1, 2) * 0.2\nW1, B1, W2, B2 = W1.double(), B1.double(), W2.double(), B2.double()",
    )
    edit_cell(nb, cell_number(nb, "def forward("), "z1 = x @ W1", "x = x.double()\n    z1 = x @ W1")
    edit_cell(nb, cell_number(nb, "model = ToyModel()\nmodel"), "ToyModel()", "ToyModel().double()")
    edit_cell(nb, _training(nb), "model = ToyModel()\n", "model = ToyModel().double()\n")
    edit_cell(
        nb, cell_number(nb, "generate_data(100)"), "generate_data(100)", "map(torch.Tensor.double, generate_data(100))"
    )
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS, results["output"]
    assert results["extra_data"]["failed_cells"] == [cell_number(nb, "# ValueError")]


def test_a_cell_that_catches_its_interrupt_costs_no_more_than_a_cell_that_raised(grade_notebook):
    nb = solution()
    training = _training(nb)
    edit_cell(
        nb,
        training,
        "torch.manual_seed(0)\n",
        "import time\nfor attempt in range(10**9):  # copied code: retry whatever happens\n    try:\n"
        "        time.sleep(0.01)\n    except:\n        continue\ntorch.manual_seed(0)\n",
    )
    results = grade_notebook(nb, "--cell-timeout", "2")
    assert results["score"] == TRAINING_LOST, results["output"]
    message = output_of(results, "5.1")
    assert message.startswith(
        f"Cell {training}, which trains `model` (Exercise 5), did not finish: it raised `Timeout: cell {training} "
        "ran longer than 2 s and did not stop when interrupted"
    ), message
    assert "the notebook was run again from a fresh start without that cell" in message
    assert "The model was checked as the cells before it left it." in message


def test_matplotlib_notebook_backend_runs_as_inline(grade_notebook):
    nb = edit_cell(
        solution(), 1, "import torch\n", "%matplotlib notebook\nimport matplotlib.pyplot as plt\nimport torch\n"
    )
    nb.cells.append(nbformat.v4.new_code_cell("%matplotlib widget\nplt.plot([1, 2, 3])\nplt.show()"))
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS, results["output"]
    assert "`%matplotlib notebook` ran as `%matplotlib inline`" in results["output"]


def test_an_am_i_on_colab_check_sees_a_local_jupyter_and_colab_calls_do_nothing(grade_notebook):
    check = (
        "try:\n    import google.colab\n    IN_COLAB = True\nexcept ImportError:\n    IN_COLAB = False\n"
        "if IN_COLAB:\n    import os\n    os.chdir('/content/drive/MyDrive/cse447')\n"
    )
    nb = edit_cell(solution(), 1, "import torch\n", check + "import torch\n")
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "from google.colab import files\nfrom google.colab.patches import cv2_imshow\n"
            "files.download('A0.ipynb')\nassert not IN_COLAB"
        )
    )
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS, results["output"]
    assert "Colab\\-only call `google.colab.files.download()` skipped" in results["output"]
    assert results["extra_data"]["failed_cells"] == [cell_number(nb, "# ValueError")]


def test_an_error_inside_a_time_magic_cell_is_a_failed_cell(grade_notebook):
    nb = solution(steps=3, warm=False)
    training = cell_number(nb, "range(3)")
    code_cells(nb)[training - 1].source = "%%time\n" + code_cells(nb)[training - 1].source.replace(
        "optimizer = torch.optim.Adam(model.parameters(), lr=0.01)\n", ""
    )
    results = grade_notebook(nb)
    assert training in results["extra_data"]["failed_cells"]
    assert results["score"] == TRAINING_LOST, results["output"]
    assert output_of(results, "5.1").startswith(
        f"Cell {training}, which trains `model` (Exercise 5), did not finish: it raised "
        "`NameError: name 'optimizer' is not defined`"
    )


LOADER = (
    "from torch.utils.data import DataLoader, TensorDataset\n"
    "loader = DataLoader(TensorDataset(X, Y), batch_size=10, num_workers=2)\n"
    "for xb, yb in loader:\n    pass\n"
    "batches = iter(DataLoader(TensorDataset(X, Y), batch_size=5, num_workers=2, persistent_workers=True))\n"
    "first = next(batches)\n"
)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the sandbox modes are root's")
@pytest.mark.parametrize("mode", ["root", "root without CAP_SYS_ADMIN"])
def test_dataloader_workers_run_as_in_jupyter_and_what_the_grader_does_after_the_last_cell_is_not_blamed(
    tmp_path, mode
):
    nb = solution()
    edit_cell(nb, _training(nb), "torch.manual_seed(0)\n", LOADER + "torch.manual_seed(0)\n")
    submission = save(nb, tmp_path / "submission")
    wrap = ["setpriv", "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin"] if mode != "root" else []
    completed = subprocess.run(
        [*wrap, str(RUN_AUTOGRADER), "--submission", str(submission), "--results", str(tmp_path / "results.json")]
        + ["--quiet", "--sandbox-user", sandbox_user(), "--cell-timeout", "60"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["score"] == FULL_MARKS, results["output"]
    assert results["extra_data"]["failed_cells"] == [cell_number(nb, "# ValueError")]


# -- words that never contradict the notebook
def test_a_transposed_gradient_is_named(grade_notebook):
    nb = solution()
    backprop = cell_number(nb, "def backprop(")
    edit_cell(nb, backprop, "W2_grad = (h[:,:,None] * z2_grad[:,None,:]).sum(0)", "W2_grad = (h.T @ z2_grad).T")
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS - sum(RUBRIC[n].points for n in ("2.1", "2.2")), results["output"]
    assert output_of(results, "2.2").startswith(
        "`W2_grad` is the transpose of the right gradient: it must have the shape of `W2`. With the grader's own"
    )


def test_a_mean_for_a_sum_is_named_and_2_3_says_to_fix_2_2_first(grade_notebook):
    nb = edit_cell(
        solution(), cell_number(solution(), "def backprop("), "2 * (y_hat - Y)", "2 * (y_hat - Y) / Y.numel()"
    )
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS - sum(RUBRIC[n].points for n in ("2.2", "2.3")), results["output"]
    message = output_of(results, "2.2")
    assert message.startswith(
        "`W2_grad` is the right gradient divided by the number of values of `Y` (a mean, as `mse_loss` takes by "
        "default, where the loss `((y_hat - Y)**2).sum()` is a sum?)."
    ), message  # the grader's batch size (its Y: 25 x 2 values), not the student's, is not named
    assert "0.02" not in message
    assert output_of(results, "2.3").startswith(
        "Fix test 2.2 first: the hidden layer's gradients are computed from the output layer's"
    )


def test_cuda_and_a_name_only_the_students_session_had_are_named_in_plain_words(grade_notebook):
    nb = solution()
    edit_cell(nb, cell_number(nb, "def forward("), "z1 = x @ W1", "x = normalize(x)\n    z1 = x @ W1")
    edit_cell(nb, _training(nb), "model = ToyModel()\n", "model = ToyModel().cuda()\n")
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS - sum(RUBRIC[n].points for n in ("1.1", "1.2", "5.1")), results["output"]
    forward = output_of(results, "1.1")
    assert "**First cause:** no cell above defines `normalize` (no cell that failed did either). If it existed " in (
        forward
    )
    training = output_of(results, "5.1")
    assert "The grader, like Gradescope, has no GPU. Choose the device with `device = torch.device(" in training


def test_a_renamed_forward_is_pointed_out(grade_notebook):
    nb = solution()
    for number in range(cell_number(nb, "def forward("), cell_number(nb, "def backprop(")):
        code_cells(nb)[number - 1].source = code_cells(nb)[number - 1].source.replace("forward", "forward_pass")
    results = grade_notebook(nb)
    assert output_of(results, "1.1").startswith(
        "`forward` is not defined when the notebook has finished running. Your notebook defines `forward_pass`: the "
        "grader calls `forward`, the name the handout gives, so keep that name."
    )


def test_exercise5_advice_names_a_model_that_never_trained_first(grade_notebook):
    nb = solution(steps=3, warm=False)
    training = cell_number(nb, "range(3)")
    edit_cell(nb, training, "    loss.backward()\n", "")
    message = output_of(grade_notebook(nb), "5.1")
    assert message.startswith(
        "The parameters of your final `model` never changed after it was created: it was not trained."
    ), message
    assert "Train for more steps" not in message and "manual_seed" not in message


def test_exercise5_advice_names_data_regenerated_in_the_training_cell(grade_notebook):
    nb = solution(steps=3, warm=False)
    edit_cell(nb, cell_number(nb, "range(3)"), "model = ToyModel()\n", "model = ToyModel()\nX, Y = generate_data(20)\n")
    message = output_of(grade_notebook(nb), "5.1")
    assert message.startswith("Your final `X` is not the toy data of the handout"), message


def _exercise5(grade_notebook, change) -> str:
    """5.1's output for the solution training 3 steps from its seed after `change(nb, training cell's number)`;
    every other line keeps its points."""
    nb = solution(steps=3, warm=False)
    change(nb, cell_number(nb, "range(3)"))
    results = grade_notebook(nb)
    assert results["score"] == TRAINING_LOST, results["output"]
    return output_of(results, "5.1")


def test_exercise5_advice_names_a_loop_that_trains_on_another_tensor(grade_notebook):
    # `x` is Part 3's autograd example, a tensor of 3 values: `model(x)` runs
    message = _exercise5(grade_notebook, lambda nb, cell: edit_cell(nb, cell, "model(X)", "model(x)"))
    assert message.startswith(
        "Your training loop calls `model(x)`: `x` is not the toy data, so the model was trained on other inputs than "
        "the ones the grader checks it on"
    ), message
    assert "Call `model(X)` in the loop to train on `X`." in message.split("\n\n")[0]
    assert "Train for more steps" not in message and "manual_seed(0)` right" not in message


def test_exercise5_advice_names_a_loss_compared_with_other_targets(grade_notebook):
    message = _exercise5(
        grade_notebook,
        lambda nb, cell: _insert_before(
            edit_cell(nb, cell, "mse_loss(y_hat, Y)", "mse_loss(y_hat, y_train)"),
            cell,
            "x_train, y_train = generate_data(20)  # my own training set",
        ),
    )
    assert message.startswith(
        "Your training loop's loss compares the model's output with `y_train`, which is not the toy data's `Y`: the "
        "model was trained toward other targets than the ones the grader checks it on."
    ), message


def test_a_loop_on_another_name_for_the_toy_data_is_not_accused_and_a_seeded_cell_is_told_no_seed_fact(
    grade_notebook,
):
    message = _exercise5(
        grade_notebook,
        lambda nb, cell: _insert_before(edit_cell(nb, cell, "model(X)", "model(inputs)"), cell, "inputs = X.clone()"),
    )
    assert message.startswith("The MSE of your trained `model` on the toy data is "), message
    assert "Train for more steps" in message
    assert "model(inputs)" not in message and "seed" not in message


def test_exercise5_names_a_cell_that_creates_model_without_a_seed_first(grade_notebook):
    message = _exercise5(grade_notebook, lambda nb, cell: edit_cell(nb, cell, "torch.manual_seed(0)\n", ""))
    assert message.startswith(
        f"Cell {_training(solution())}, which creates your final `model`, sets no seed before `model = ...` (no "
        "`torch.manual_seed(...)` above it in that cell): the model's starting weights depend on every random number "
        "drawn before, so a fresh run of the notebook (Restart & Run All, as the grader runs it) can start it from "
        "other weights than your session did."
    ), message
    assert "\n\nThe MSE of your trained `model` on the toy data is " in message
    assert "Put `torch.manual_seed(0)` right before `model = ToyModel()`" in message


MANUAL_SGD = (
    "torch.manual_seed(0)\nmodel = ToyModel()\nfor step in range(3):\n    model.zero_grad()\n"
    "    loss = mse_loss(model(X), Y)\n    loss.backward()\n    for p in model.parameters():\n"
    "        p.data -= 0.01 * p.grad.data  # a tutorial's update: not counted in the tensor's version\n"
)


def _training_cell(source: str):
    return lambda nb, cell: setattr(code_cells(nb)[cell - 1], "source", source)


NEVER_TRAINED = {
    "a training function never called": _training_cell(
        "torch.manual_seed(0)\nmodel = ToyModel()\n\ndef train(steps=3):\n"
        "    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)\n    for step in range(steps):\n"
        "        optimizer.zero_grad()\n        mse_loss(model(X), Y).backward()\n        optimizer.step()\n"
    ),
    "the model created again after the loop": lambda nb, cell: nb.cells.append(
        nbformat.v4.new_code_cell("model = ToyModel()  # start over")
    ),
}


@pytest.mark.parametrize("change", NEVER_TRAINED.values(), ids=NEVER_TRAINED.keys())
def test_a_final_model_that_never_trained_is_named_before_any_seed_or_data_fact(grade_notebook, change):
    message = _exercise5(grade_notebook, change)
    assert message.startswith(
        "The parameters of your final `model` never changed after it was created: it was not trained."
    ), message
    assert "seed" not in message.split("\n\n")[0] and "Train for more steps" not in message


def test_a_model_trained_through_data_is_never_told_it_was_not_trained(grade_notebook):
    message = _exercise5(grade_notebook, _training_cell(MANUAL_SGD))
    assert message.startswith("The MSE of your trained `model` on the toy data is "), message
    assert "never changed" not in message


def test_data_changed_only_after_training_is_not_named_as_what_the_model_trained_on(grade_notebook):
    new_data = nbformat.v4.new_code_cell("X, Y = generate_data(100)\nmse_loss(model(X), Y)")
    message = _exercise5(grade_notebook, lambda nb, cell: nb.cells.append(new_data))
    assert message.startswith("The MSE of your trained `model` on the toy data is "), message
    assert "toy data of the handout" not in message


def test_a_saturated_model_gets_no_warning_of_the_grader(grade_notebook):
    nb = solution()
    code_cells(nb)[_training(nb) - 1].source += "\n    for p in model.parameters():\n        p.mul_(1000.0)\n"
    results = grade_notebook(nb)  # conftest.grade: no output holds a warning or a grader path
    assert output_of(results, "5.1").startswith("The MSE of your trained `model` on the toy data is ")


# -- issue 19's smaller items
def test_an_argparse_exit_is_worded_as_what_happened(grade_notebook):
    nb = _insert_before(
        solution(steps=3, warm=False),
        _training(solution()),
        "import argparse\nparser = argparse.ArgumentParser()\nparser.add_argument('--lr', type=float, default=0.01)\n"
        "parser.add_argument('--steps', type=int, required=True)\nargs = parser.parse_args()\n",
    )
    edit_cell(nb, cell_number(nb, "range(3)"), "lr=0.01", "lr=args.lr")
    results = grade_notebook(nb)
    assert results["score"] == TRAINING_LOST, results["output"]
    parser = cell_number(nb, "import argparse")
    assert f"- cell {parser} (`import argparse`): was ended by argparse" in results["output"], results["output"]
    cause = output_of(results, "5.1").split("\n\n")[2]
    assert cause.startswith(
        f"**First cause:** cell {parser} (`import argparse`), which defines `args`, was ended by argparse "
        "(`SystemExit` in `parse_args()`) before defining it: `parse_args()` reads the command line, and a "
        "notebook has no command line arguments for your parser; in a notebook write `parser.parse_args(args=[])`"
    ), cause
    assert "exit()" not in results["output"] + output_of(results, "5.1")


def test_a_notebook_safari_saved_as_txt_is_graded_with_a_note(grade_notebook):
    results = grade_notebook(solution(), name="A0.ipynb.txt")
    assert results["score"] == FULL_MARKS, results["output"]
    assert results["output"].startswith(
        "**Notebook:** `A0.ipynb.txt` was graded because your submission has no `.ipynb` file and this file's name "
        "ends in `.ipynb.txt`."
    ), results["output"]
    assert "(Safari adds it when it downloads a notebook); it was graded as a notebook." in results["output"]


def test_an_upload_of_only_jupyters_checkpoint_folder_grades_that_copy_and_says_so(tmp_path):
    folder = tmp_path / "submission"
    save(solution(), folder / ".ipynb_checkpoints", "A0-checkpoint.ipynb")
    (folder / "notes.txt").write_text("done!")
    results = grade(folder, tmp_path / "results.json")
    assert results["score"] == FULL_MARKS, results["output"]
    assert results["output"].startswith(
        "**Notebook:** `.ipynb_checkpoints/A0-checkpoint.ipynb` was graded because it is the only notebook in your "
        "submission: it is the copy Jupyter keeps in `.ipynb_checkpoints/`, not your notebook itself."
    ), results["output"]
    assert "Your submission holds only Jupyter's checkpoint copy of your notebook" in results["output"]
    assert "notes.txt" not in results["output"]


def _answer_cell(nb) -> int:
    question = next(i for i, c in enumerate(nb.cells) if "could loss ever increase" in c.source.lower())
    return question + 1


def test_an_exercise3_answer_printed_in_a_code_cell_is_an_answer_for_the_staff(grade_notebook):
    """The reader never runs the cell: the string literals its print() calls are given are read from its syntax
    tree (a saved output, possibly stale, comes second); the staff grade it like a markdown answer."""
    nb = solution()
    answer = _answer_cell(nb)
    nb.cells[answer].source = "**Answer:**"
    printing = nbformat.v4.new_code_cell('print("Yes: a large learning rate", "can overshoot the minimum.")')
    printing.outputs = [nbformat.v4.new_output("stream", name="stdout", text="Yes: a large step overshoots.\n")]
    nb.cells.insert(answer + 1, printing)
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS, results["output"]
    assert output_of(results, "3") == (
        "Your answer, printed by the code cell below the question (the markdown answer cell is empty), for the "
        "course staff to grade by hand:\n\n> Yes: a large learning rate can overshoot the minimum\\.\n\nNext time, "
        "write it after `Answer:` in the markdown cell."
    )
    assert results["extra_data"]["by_hand"]["answer"] == "Yes: a large learning rate can overshoot the minimum."

    printing.source = "text = 'Yes.'\nprint(text)"  # no literal in print(): what the saved notebook printed
    results = grade_notebook(nb)
    assert results["extra_data"]["by_hand"]["answer"] == "Yes: a large step overshoots."


def test_an_exercise3_answer_that_is_only_an_image_is_told_so_once(grade_notebook):
    nb = solution()
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    nb.cells[_answer_cell(nb)].source = f"**Answer:**\n\n![my answer](data:image/png;base64,{png})"
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS, results["output"]
    assert (
        output_of(results, "3") == "Your answer is 1 image(s), for the course staff to grade by hand in the notebook."
    )


def test_a_training_cell_that_fails_before_its_model_names_no_layer_of_the_handouts_example(grade_notebook):
    nb = solution()
    edit_cell(nb, cell_number(nb, "model = ToyModel()\nmodel"), "model = ToyModel()\nmodel", "ToyModel()")
    training = _training(nb)
    edit_cell(nb, training, "torch.manual_seed(0)\n", "torch.manual_seed(0)\nlearning_rate = step_size\n")
    results = grade_notebook(nb)
    assert results["score"] == TRAINING_LOST, results["output"]
    message = output_of(results, "5.1")
    assert message.startswith(
        f"Cell {training}, which trains `model` (Exercise 5), did not finish: it raised `NameError: name "
        "'step_size' is not defined`"
    ), message
    assert message.endswith(
        "The model was checked as that cell left it. Your final `model` is still the handout's example network "
        "(`model = ExampleNetwork()` in Part 3): that cell stopped before its own `model = ...`."
    ), message
    assert "784" not in message and "128" not in message


def test_a_skipped_shell_command_is_shown_as_code_without_backslashes(grade_notebook):
    nb = _insert_before(solution(), 2, "!pip install -q numpy\n%pip install torch\n")
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS, results["output"]
    html = MarkdownIt().render(results["output"])
    assert (
        "Cell 2: shell command <code>!pip install -q numpy</code> was skipped (the grader runs no shell commands)."
        in (html)
    ), html
    assert "Cell 2: magic <code>%pip install torch</code> was skipped" in html
    assert "\\" not in html
