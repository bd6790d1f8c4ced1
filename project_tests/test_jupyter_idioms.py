"""Notebooks run as they do in Jupyter: real IPython idioms applied to the solution keep full marks."""

import nbformat
from conftest import FULL_MARKS, LOOP, STEPS, cell_number, edit_cell, solution

TRAINING = LOOP


def _insert_before(nb, number: int, source: str):
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    nb.cells.insert(nb.cells.index(code[number - 1]), nbformat.v4.new_code_cell(source))
    return nb


def test_helper_files_written_run_and_environment_variables(grade_notebook):
    nb = solution(steps=STEPS)
    training = cell_number(nb, TRAINING)
    edit_cell(nb, training, LOOP, "steps = int(os.environ['A0_STEPS'])\nfor step in range(steps):")
    _insert_before(nb, training, "%%writefile steps.py\nSTEPS = 50\n")
    _insert_before(
        nb, training + 1, "%run steps.py\nimport os\n%env A0_STEPS={STEPS}\nassert os.environ['A0_STEPS'] == '50'"
    )
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS, results["output"]
    assert results["extra_data"]["failed_cells"] == [cell_number(nb, "# ValueError")]  # the handout's own


def test_await_tqdm_notebook_get_ipython_and_a_colab_mount(grade_notebook):
    nb = solution(steps=STEPS)
    edit_cell(
        nb,
        1,
        "import torch",
        "from google.colab import drive\ndrive.mount('/content/drive')\n"
        "from IPython import get_ipython\nget_ipython().run_line_magic('matplotlib', "
        "'inline')\nimport torch",
    )
    training = cell_number(nb, TRAINING)
    edit_cell(
        nb,
        training,
        LOOP,
        "import asyncio\nawait asyncio.sleep(0)\nfrom tqdm.notebook import tqdm\nfor step in tqdm(range(50)):",
    )
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS, results["output"]
    assert "Colab\\-only call `google.colab.drive.mount()` skipped" in results["output"]


def test_capture_display_timeit_and_skipped_shell_commands(grade_notebook):
    nb = solution()
    forward = cell_number(nb, "def forward(")
    _insert_before(nb, forward + 1, "%%capture captured\nprint('hidden')")
    _insert_before(
        nb,
        forward + 2,
        "from IPython.display import display\ndisplay(captured.stdout)\n"
        "%timeit -n 1 -r 1 forward(X)\n!pip install nothing\n%pip install nothing",
    )
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS, results["output"]
    assert "shell command `!pip install nothing` was skipped" in results["output"]
    assert "magic `%pip install nothing` was skipped" in results["output"]
