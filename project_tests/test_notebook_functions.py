"""The pure functions that read a notebook: locate, the Exercise 3 answer, the saved loss, and code facts."""

import base64
import copy
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from assignments.a0 import answer as answer_module
from assignments.a0.analyses import loop_arguments, read_then_bound, seeds_before, writes_through_data
from assignments.a0.answer import exercise3_answer, saved_exercise5_loss
from assignments.a0.handout import HANDOUT_CODE
from grader.notebook.locate import MAX_DEPTH, Sought, SubmissionProblem, locate
from grader.notebook.scan import (
    code_fingerprint,
    defined_names,
)

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source" / "A0.ipynb"
SOLUTION = ROOT / "solution" / "A0.ipynb"
HANDOUT = json.loads(SOURCE.read_text())["cells"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 50


def text(cell) -> str:
    return "".join(cell["source"])


QUESTION = next(i for i, c in enumerate(HANDOUT) if "could loss ever increase" in text(c).lower())
ANSWER = QUESTION + 1


def cells(question=None, answer=None, after=(), attachments=None) -> list:
    result = copy.deepcopy(HANDOUT)
    if question is not None:
        result[QUESTION]["source"] = question
    if answer is not None:
        result[ANSWER]["source"] = answer
    if attachments is not None:
        result[ANSWER]["attachments"] = attachments
    result[ANSWER + 1 : ANSWER + 1] = [{"cell_type": "markdown", "metadata": {}, "source": s} for s in after]
    return result


# --- Exercise 3 -------------------------------------------------------------------------------------------------


def test_the_embedded_handout_text_is_the_handouts():
    assert text(HANDOUT[QUESTION]) == answer_module.HANDOUT_QUESTION
    assert text(HANDOUT[ANSWER]) == answer_module.HANDOUT_ANSWER
    assert text(HANDOUT[QUESTION - 1]) == answer_module.HANDOUT_HEADING


def test_the_untouched_handout_has_an_empty_answer_and_the_solution_its_own():
    assert exercise3_answer(HANDOUT).text == ""
    solved = exercise3_answer(json.loads(SOLUTION.read_text())["cells"]).text
    assert solved.startswith("Yes, the loss can increase.") and solved.endswith("keeps decreasing here.")


QUESTION_TEXT = answer_module.HANDOUT_QUESTION


@pytest.mark.parametrize(
    "notebook, expected",
    [
        (cells(answer="**Answer:** Yes, it can."), "Yes, it can."),
        (cells(answer="**Answer**: Yes, it can."), "Yes, it can."),
        (cells(answer="Answer: Yes, it can."), "Yes, it can."),
        (cells(answer="**Answer: Yes**, because the step is too large."), "Yes, because the step is too large."),
        (cells(answer="__Answer:__ Yes"), "Yes"),
        (cells(answer="## Answer:\nYes, it can.\n\nWith a large rate."), "Yes, it can.\n\nWith a large rate."),
        (cells(answer="### Answer\nYes, it can."), "Yes, it can."),
        (cells(answer=["**Answer:**\n", "\n", "Yes, it can."]), "Yes, it can."),
        (cells(answer="Yes, it can (replacing the placeholder)."), "Yes, it can (replacing the placeholder)."),
        (cells(question=QUESTION_TEXT + "\n\nYes, it can."), "Yes, it can."),
        (cells(question=QUESTION_TEXT.replace("explain why.", "explain why. Yes, it can.")), "Yes, it can."),
        (cells(question=QUESTION_TEXT + "\n\nAnswer: yes", answer=""), "yes"),
        (cells(after=["Yes, in a cell of its own."]), "Yes, in a cell of its own."),
        (cells(after=["## Part 3: the next section"]), ""),
        (cells(answer="Answers vary; the loss can go up."), "Answers vary; the loss can go up."),
        (cells(question="", answer="**Answer:** Yes"), "Yes"),  # the question deleted: found by its heading
        (
            cells(
                question=(answer_module.HANDOUT_QUESTION + "\n\n**Answer:**\nYes\n").replace("\n", "\r\n"), answer=""
            ),
            "Yes",
        ),  # Windows line ends
    ],
)
def test_the_answer_in_any_usual_shape(notebook, expected):
    assert exercise3_answer(notebook).text == expected


def test_images_are_decoded_or_counted_and_removed_from_the_text():
    gif = base64.b64encode(b"GIF89a" + b"\0" * 10).decode()
    found = exercise3_answer(
        cells(
            answer=f"**Answer:** ![a](attachment:a.png) ![b](https://example.com/b.png) <img src=\"data:image/gif;"
            f"base64,{gif}\" width=9> see <IMG SRC='x.png'> ![c](attachment:missing.png) "
            f"![d](data:image/png;base64,{base64.b64encode(b'<svg/>').decode()})",
            attachments={"a.png": {"image/png": base64.b64encode(PNG).decode()}},
        )
    )
    assert found.text == "see"
    assert found.images == [("image/png", PNG), ("image/gif", b"GIF89a" + b"\0" * 10)]
    assert found.image_links == 2 and found.images_skipped == 2


def test_images_are_limited_in_number_and_size():
    big = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 2**19)).decode()
    small = base64.b64encode(PNG).decode()
    found = exercise3_answer(
        cells(answer=f"![x](data:image/png;base64,{big})" + f" ![y](data:image/png;base64,{small})" * 7)
    )
    assert len(found.images) == 5 and found.images_skipped == 3 and found.text == ""


def test_no_question_gives_none_and_odd_cells_never_raise():
    assert exercise3_answer([]).text is None
    assert exercise3_answer(None).text is None
    assert exercise3_answer("cells").text is None
    odd = [
        None,
        3,
        "x",
        {"cell_type": None},
        {"cell_type": "markdown", "source": {"a": 1}},
        {"cell_type": "markdown", "source": [None, 3, "Could loss ever increase?"], "attachments": [1]},
        {"cell_type": "markdown", "source": None},
        {"cell_type": "markdown", "source": ["![x](attachment:y)"], "attachments": {"y": {"image/png": {"no": 1}}}},
    ]
    assert exercise3_answer(odd).text == "Could loss ever increase?"
    assert exercise3_answer(cells(answer={"a": 1})).text == ""
    assert exercise3_answer(cells(answer="lone \ud800 surrogate")).text == "lone \ufffd surrogate"


@pytest.mark.parametrize(
    "hostile",
    [
        "**Answer:** " + "*" * 1_000_000,
        "*" * 1_000_000,
        "![" * 300_000,
        "![a](" * 200_000,
        "<img" * 250_000,
        "![a]" * 250_000 + "(",
        ("**Answer:" + "*" * 30 + "\n") * 30_000,
        "Answer" * 200_000,
    ],
)
def test_a_hostile_answer_is_read_in_linear_time(hostile):
    start = time.process_time()  # CPU time (0.3 s here), not stretched by a busy machine; quadratic would be hours
    exercise3_answer(cells(answer=hostile))
    assert time.process_time() - start < 2


def test_saved_loss():
    notebook = copy.deepcopy(HANDOUT)
    cell = next(c for c in notebook if "Exercise 5: Don't modify" in text(c))
    assert saved_exercise5_loss(notebook) is None
    cell["outputs"] = [
        {"output_type": "execute_result", "data": {"text/plain": ["tensor(0.0011, grad_fn=<MseLossBackward0>)"]}}
    ]
    assert saved_exercise5_loss(notebook) == 0.0011
    cell["outputs"] = [None, {"data": 3}, {"text": ["tensor(nan)"]}]
    assert saved_exercise5_loss(notebook) != saved_exercise5_loss(notebook)  # nan
    cell["outputs"] = [{"text": "tensor(1.2.3)"}]
    assert saved_exercise5_loss(notebook) is None
    cell["outputs"] = {"not": "a list"}
    assert saved_exercise5_loss(notebook) is None
    assert saved_exercise5_loss(None) is None


# --- scan -------------------------------------------------------------------------------------------------------


def test_defined_names():
    source = "\n".join(
        [
            "import torch, numpy as np",
            "import torch.nn as nn",
            "import os.path",
            "from torch import optim as opt",
            "from math import *",
            "%matplotlib inline",
            "x: int = 3",
            "a, (b, *c) = 1, (2, 3, 4)",
            "n += 1",
            "for i, j in []:",
            "    if True:",
            "        model = 1",
            "    else:",
            "        with open('x') as (f, g): pass",
            "try:",
            "    import q",
            "except E as err:",
            "    pass",
            "finally:",
            "    z = 1",
            "def fn(): inner = 1",
            "class K: attr = 1",
            "while (w := 3): break",
            "obj.attr = 1",
            "d[0] = 1",
            "await later()",
        ]
    )
    assert defined_names(source) == [
        "torch",
        "np",
        "nn",
        "os",
        "opt",
        "x",
        "a",
        "b",
        "c",
        "n",
        "i",
        "j",
        "model",
        "f",
        "g",
        "q",
        "err",
        "z",
        "fn",
        "K",
        "w",
    ]
    assert defined_names("def broken(:") == []
    assert defined_names(None) == [] and defined_names({"a": 1}) == []
    assert len(defined_names("\n".join(f"v{i} = {i}" for i in range(1000)))) == 200
    assert defined_names("(" * 100_000 + ")" * 100_000) == []
    assert defined_names("%%time\nmodel = ToyModel()") == ["model"]


def test_seeds_before():
    assert seeds_before("torch.manual_seed(0)\nmodel = ToyModel()")
    assert seeds_before("torch.random.manual_seed(0); model = ToyModel()")
    assert seeds_before("import numpy as np\nnp.random.seed(1)\nif True:\n    model = ToyModel()")
    assert not seeds_before("model = ToyModel()\ntorch.manual_seed(0)")
    assert not seeds_before("model = ToyModel()")
    assert not seeds_before("torch.seed()\nmodel = ToyModel()")  # a random seed
    assert not seeds_before("torch.manual_seed(0)")  # the cell does not create the model
    assert seeds_before("torch.manual_seed(0)\nnet = ToyModel()", name="net")
    assert not seeds_before("def (:") and not seeds_before(None)


def test_code_fingerprint():
    assert code_fingerprint(SOURCE) == HANDOUT_CODE == code_fingerprint(HANDOUT)
    reformatted = copy.deepcopy(HANDOUT)
    for cell in reformatted:
        if cell["cell_type"] == "code":
            cell["source"] = "\n\n".join(line.replace(" ", "  ") for line in cell["source"])
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "anything"}]
        else:
            cell["source"] = "changed markdown"
    assert code_fingerprint(reformatted) == HANDOUT_CODE
    assert code_fingerprint(SOLUTION) != HANDOUT_CODE
    assert code_fingerprint(ROOT / "missing.ipynb") == "" and code_fingerprint(None) == ""
    assert code_fingerprint([None, {"cell_type": "code", "source": {"x": 1}}]) != ""


# --- locate -----------------------------------------------------------------------------------------------------


def write(folder: Path, name: str, source: Path = SOURCE) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(source.read_bytes())
    return path


def test_the_untouched_handout_gives_way_to_the_copy_with_work(tmp_path):
    write(tmp_path, "A0.ipynb")
    write(tmp_path, "Copy of A0.ipynb", SOLUTION)
    write(tmp_path, "scratch.ipynb", SOLUTION)
    located = locate(tmp_path, Sought("A0.ipynb", HANDOUT_CODE))
    assert located.path.name == "Copy of A0.ipynb"
    assert located.reason == (
        "`Copy of A0.ipynb` was graded because `A0.ipynb` has exactly the code cells of the "
        "handout (no work in it), and `Copy of A0.ipynb` has your work."
    )
    assert located.notes == ["Other notebooks not graded: `A0.ipynb`, `scratch.ipynb`."]
    assert locate(tmp_path, Sought("A0.ipynb")).path.name == "A0.ipynb"  # without the handout's fingerprint


def test_the_handout_is_graded_when_no_other_notebook_has_work(tmp_path):
    write(tmp_path, "A0.ipynb")
    write(tmp_path, "Copy of A0.ipynb")
    (tmp_path / "broken.ipynb").write_text("{not json")
    located = locate(tmp_path, Sought("A0.ipynb", HANDOUT_CODE))
    assert located.path.name == "A0.ipynb" and "expected name" in located.reason


@pytest.fixture
def fast_tmp(tmp_path):
    """A folder in memory when the machine has one: thousands of folders on a busy disk take seconds."""
    if not os.access("/dev/shm", os.W_OK):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="a0-locate-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_deep_folder_is_searched_to_a_bounded_depth(fast_tmp):
    tmp_path = fast_tmp
    folders = [tmp_path]
    for _ in range(1100):  # os.makedirs and shutil.rmtree recurse: both would fail at this depth
        folders.append(folders[-1] / "d")
        folders[-1].mkdir()
    try:
        write(folders[-1], "A0.ipynb")
        write(folders[2], "A0.ipynb")
        located = locate(tmp_path)
        assert located.path == folders[2] / "A0.ipynb"
        assert any(f"nested more than {MAX_DEPTH} deep" in note for note in located.notes)
    finally:
        (folders[-1] / "A0.ipynb").unlink()
        for folder in reversed(folders[1:]):
            (folder / "A0.ipynb").unlink(missing_ok=True)
            folder.rmdir()


def test_many_entries_are_bounded(fast_tmp):
    tmp_path = fast_tmp
    for i in range(10_050):
        (tmp_path / f"f{i:05}.txt").touch()
    with pytest.raises(SubmissionProblem, match="more than 10,000 files"):
        locate(tmp_path)


def test_links_are_never_followed(tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    os.symlink(SOLUTION, submission / "A0.ipynb")
    with pytest.raises(
        SubmissionProblem,
        match="`A0.ipynb` is a link to a file outside your submission; it was "
        "ignored. Please upload the notebook file itself",
    ):
        locate(submission)
    write(submission, "real.ipynb")
    os.symlink(submission / "real.ipynb", submission / "inside.ipynb")
    os.symlink(tmp_path, submission / "loop")
    located = locate(submission)
    assert located.path.name == "real.ipynb"
    assert "`inside.ipynb` is a link to another file; it was ignored." in located.notes


def test_no_notebook(tmp_path):
    (tmp_path / ".A0.ipynb").write_text("{}")
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "__MACOSX" / "A0.ipynb").write_text("{}")
    with pytest.raises(SubmissionProblem, match=r"\(it has `.A0.ipynb`\)"):
        locate(tmp_path)


LOOP = "model = ToyModel()\nfor step in range(9):\n    y_hat = model({})\n    loss = mse_loss(y_hat, {})\n"


def test_loop_arguments_name_only_what_the_loop_surely_saw():
    assert loop_arguments(LOOP.format("x", "Y")) == {"input": "x", "target": "Y"}
    assert loop_arguments("x = X\n" + LOOP.format("x", "y")) == {"input": "x", "target": "y"}  # bound before
    assert loop_arguments("while True:\n    l = criterion(model.forward(a), b)", method="forward") == {
        "input": "a",
        "target": "b",
    }
    nothing = {"input": None, "target": None}
    assert loop_arguments(LOOP.format("x", "Y") + "    x = x + 1\n") == {"input": None, "target": "Y"}
    assert loop_arguments(LOOP.format("X.float()", "Y[:, 0]")) == nothing  # not a variable
    assert loop_arguments("for xb, yb in loader:\n    mse_loss(model(xb), yb)") == nothing  # one batch at the end
    assert loop_arguments(LOOP.format("x", "Y") + "    mse_loss(model(X), y)\n") == nothing  # two of each
    assert loop_arguments("y_hat = model(x)\nloss = mse_loss(y_hat, y)") == nothing  # no loop
    assert loop_arguments("def train():\n    for i in range(9):\n        model(x)") == nothing  # not run here
    assert loop_arguments("def (:") == nothing and loop_arguments(None) == nothing


def test_read_then_bound_and_writes_through_data():
    assert read_then_bound(LOOP.format("x", "Y"), ["x = 1", "X2, Y2 = generate_data(100)", "Y = Y.float()"]) == [
        "Y",
        "x",
    ]
    assert read_then_bound(LOOP.format("x", "Y"), []) == [] and read_then_bound("def (:", ["x = 1"]) == []
    assert writes_through_data(["for p in model.parameters():\n    p.data -= lr * p.grad.data"])
    assert writes_through_data(["p.data.sub_(lr * p.grad)"]) and writes_through_data(["p.data[0] = 1"])
    assert not writes_through_data(["print(p.data)\nq = p.data.clone()", "with torch.no_grad():\n    p -= 1"])


def test_messages_name_the_notebook_the_assignment_gives(tmp_path):
    write(tmp_path, "hw1.ipynb")
    write(tmp_path, "notes.ipynb")
    assert "the expected name `hw1.ipynb`" in locate(tmp_path, Sought("hw1.ipynb")).reason
    (tmp_path / "hw1.ipynb").unlink()
    (tmp_path / "notes.ipynb").unlink()
    (tmp_path / "hw1.py").write_text("x = 1\n")
    with pytest.raises(SubmissionProblem, match=r"\(`hw1.ipynb`, from File > Download"):
        locate(tmp_path, Sought("hw1.ipynb"))
    with pytest.raises(SubmissionProblem) as unnamed:
        locate(tmp_path)
    assert "A0" not in str(unnamed.value) and "from File > Download" in str(unnamed.value)
