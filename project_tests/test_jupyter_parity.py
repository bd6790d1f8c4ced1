"""Fidelity to Jupyter is a test, not a claim: notebooks run through a real Jupyter kernel (nbclient and
ipykernel, the versions in constraints.txt) and through the grader fail in the same cells."""

import nbformat
import pytest
from conftest import code_cells

# One cell per idiom: those Jupyter runs and those where it shows a traceback.
IDIOMS = [
    "import torch\nimport matplotlib.pyplot as plt\n%matplotlib inline",
    "%%time\nx = torch.ones(3)\nundefined_in_time_cell",  # fails: a traceback inside %%time
    "class Shown:\n    def _repr_html_(self):\n        raise ValueError('display failed')\nShown()",  # fails: display
    "try:\n    import google.colab\n    IN_COLAB = True\nexcept ImportError:\n    IN_COLAB = False\n"
    "assert not IN_COLAB",
    "%matplotlib notebook\nplt.plot([1, 2])\nplt.show()",
    "%matplotlib inline\nfrom IPython.display import display\ndisplay(torch.zeros(2))",
    "from torch.utils.data import DataLoader, TensorDataset\n"
    "loader = DataLoader(TensorDataset(torch.ones(8, 3)), batch_size=4, num_workers=2)\n"
    "assert sum(len(b[0]) for b in loader) == 8",
    "import warnings\nwarnings.warn('a warning is not an error')",
    "def broken(:\n    pass",  # fails: SyntaxError
    "print(name_no_cell_defines)",  # fails: NameError
    "%timeit -n 1 -r 1 sum(range(10))",
    "from IPython.display import display\ndisplay(Shown())",  # fails: display, called by the cell
    "import sys\nprint('to stderr', file=sys.stderr)",
    "async def twice(x):\n    return 2 * x\nassert await twice(2) == 4",
    "raise KeyError('last')",  # fails
]


def _notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in IDIOMS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _jupyter_failed_cells(nb, cwd) -> list:
    """Run in a real kernel, all cells even after an error; the cells whose outputs hold a traceback."""
    try:
        import ipykernel  # noqa: F401
        from nbclient import NotebookClient
    except ImportError as missing:
        pytest.skip(f"ipykernel cannot start: {missing}")
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(cwd)}}
    )
    try:
        client.execute()
    except RuntimeError as error:  # the kernel died or never started
        pytest.skip(f"ipykernel cannot start: {error}")
    return [
        number
        for number, cell in enumerate(code_cells(nb), 1)
        if any(output.get("output_type") == "error" for output in cell.get("outputs", []))
    ]


@pytest.mark.slow(11)
def test_the_grader_and_a_jupyter_kernel_fail_the_same_cells(grade_notebook, tmp_path):
    expected = [2, 3, 9, 10, 12, 15]
    jupyter = _jupyter_failed_cells(_notebook(), tmp_path)
    assert jupyter == expected  # the idioms behave in Jupyter as the comments say
    results = grade_notebook(_notebook())
    assert results["extra_data"]["failed_cells"] == jupyter, results["output"]
