"""Graded as Colab would run it (issue 27): an import the assignment does not need never costs points.

Each of the imports popular in Colab notebooks is tried in the runner's own shell (grader/child/cells.py, with the
stand-ins of assignments/a0/packages.py), in one child process: its import succeeds; a use of a package the grader
does not install fails with ModuleNotFoundError naming it, and the feedback's sentence says which package, that the
grader does not have it, that A0 does not need it, and what to change. Three gradings then check the same end to end.
"""

import json
import subprocess
import sys
from types import SimpleNamespace

import nbformat
import pytest
from conftest import FULL_MARKS, ROOT, STEPS, cell_number, code_cells, edit_cell, solution

from assignments.a0.packages import PACKAGES
from assignments.a0.rubric import ASSIGNMENT
from grader.scoring.feedback import missing_package

# (the import as a notebook writes it, a use of it); at least 25, and every one is a test
POPULAR = {
    "pandas": ("import pandas as pd", "pd.DataFrame({'a': [1, 2]})"),
    "pandas-from": ("from pandas import DataFrame, read_csv", "read_csv('data.csv')"),
    "sklearn": ("from sklearn.model_selection import train_test_split", "train_test_split([1, 2, 3])"),
    "sklearn-submodule": ("import sklearn.metrics", "sklearn.metrics.accuracy_score([1], [1])"),
    "scipy": ("from scipy import stats", "stats.norm.pdf(0.0)"),
    "scipy-as": ("import scipy.optimize as opt", "opt.minimize(lambda x: x ** 2, 1.0)"),
    "seaborn": ("import seaborn as sns", "sns.set_theme()"),
    "statsmodels": ("import statsmodels.api as sm", "sm.OLS([1.0], [1.0])"),
    "torchvision": ("from torchvision import datasets, transforms", "transforms.ToTensor()"),
    "torchvision-models": ("import torchvision.models as models", "models.resnet18()"),
    "torchaudio": ("import torchaudio", "torchaudio.load('a.wav')"),
    "torchmetrics": ("import torchmetrics", "torchmetrics.Accuracy(task='binary')"),
    "torchsummary": ("from torchsummary import summary", "summary(None, (3,))"),
    "torchinfo": ("from torchinfo import summary as info", "info(None)"),
    "lightning": ("import pytorch_lightning as pl", "pl.Trainer(max_epochs=1)"),
    "timm": ("import timm", "timm.create_model('resnet18')"),
    "einops": ("from einops import rearrange", "rearrange([[1]], 'a b -> b a')"),
    "transformers": ("from transformers import AutoTokenizer", "AutoTokenizer.from_pretrained('bert-base-uncased')"),
    "datasets": ("from datasets import load_dataset", "load_dataset('imdb')"),
    "nltk": ("import nltk", "nltk.download('punkt')"),
    "spacy": ("import spacy", "spacy.load('en_core_web_sm')"),
    "gensim": ("from gensim.models import Word2Vec", "Word2Vec([['a']])"),
    "tensorflow": ("import tensorflow as tf", "tf.constant([1.0])"),
    "tensorflow-keras": ("from tensorflow import keras", "keras.Sequential()"),
    "keras": ("from keras import layers", "layers.Dense(2)"),
    "jax": ("import jax.numpy as jnp", "jnp.zeros(3)"),
    "plotly": ("import plotly.express as px", "px.line(x=[1, 2], y=[3, 4])"),
    "cv2": ("import cv2", "cv2.imread('a.png')"),
    "skimage": ("from skimage import io", "io.imread('a.png')"),
    "xgboost": ("import xgboost as xgb", "xgb.XGBClassifier()"),
    "wandb": ("import wandb", "wandb.init(project='a0')"),
    "tabulate": ("from tabulate import tabulate", "print(tabulate([[1, 2]]))"),
    "requests": ("import requests", "requests.get('https://example.com')"),
    "gdown": ("import gdown", "gdown.download('https://example.com/x', 'x')"),
    "version": ("import pandas as pd", "print(pd.__version__)"),
    "options": ("import pandas as pd", "pd.options.display.max_rows = 10"),
    "subclass": ("from torch.utils.data import Dataset\nimport pandas as pd", "class Frame(pd.DataFrame): pass"),
    # installed on the grader: the real package, used as on Colab
    "matplotlib": ("import matplotlib.pyplot as plt", "plt.figure(); plt.close('all')"),
    "tqdm": ("from tqdm.notebook import tqdm", "list(tqdm(range(2)))"),
    "tqdm-auto": ("from tqdm.auto import trange", "list(trange(2))"),
    "IPython.display": ("from IPython.display import display, HTML", "display(HTML('<b>x</b>'))"),
    "ipywidgets": ("import ipywidgets as widgets", "widgets.IntSlider(value=1)"),
    "PIL": ("from PIL import Image", "Image.new('RGB', (2, 2))"),
    "numpy": ("import numpy as np", "np.zeros(3)"),
    "google.colab": ("from google.colab import drive", "drive.mount('/content/drive')"),
}

CHILD = """
import importlib.util, json, sys
from assignments.a0.packages import PACKAGES
real = {top: importlib.util.find_spec(top) is not None for top in PACKAGES.stand_ins}
from grader.child.cells import new_shell
notes = []
shell = new_shell(notes.append, PACKAGES.stand_ins)

def error(result):
    exc = result.error_before_exec or result.error_in_exec or shell.shown
    return None if exc is None else [type(exc).__name__, str(exc), getattr(exc, "name", None)]

found = {}
for key, (imports, use) in json.loads(sys.argv[1]).items():
    shell.shown = None
    done = error(shell.run_cell(imports))
    shell.shown = None
    found[key] = {"import": done, "use": error(shell.run_cell(use)), "locals": sorted(shell.user_ns)}
checks = {
    "absent": "import nonexistent_pkg_xyz",
    "absent_sub": "import torch.nonexistent_xyz",
    "guarded": "try:\\n    import pandas as pd\\nexcept ImportError:\\n    pd = None\\nassert pd is None",
    "guarded_pip": "try:\\n    import wandb\\nexcept ImportError:\\n    !pip install wandb\\n    import wandb\\nwandb",
    "guarded_raise": "try:\\n    import pandas\\nexcept ImportError as error:\\n"
    "    raise ImportError('pip install it') from error",
    "isinstance": "import torch\\nimport pandas as pd\\nassert not isinstance(torch.zeros(1), pd.DataFrame)",
    "hints": "import pandas as pd\\ndef f(df: pd.DataFrame) -> pd.Series:\\n    return df\\nassert f(3) == 3",
    "star": "from tabulate import *",
}
for key, source in checks.items():
    shell.shown = None
    found[key] = {"use": error(shell.run_cell(source))}
found["notes"] = notes
import os, matplotlib  # an optional dependency probed by library code: told the truth
scope, lib = {}, os.path.join(os.path.dirname(matplotlib.__file__), "probe.py")
probe = "try:\\n    import lightgbm\\n    found = True\\nexcept ImportError:\\n    found = False\\n"
exec(compile(probe, lib, "exec"), scope)
found["library"] = {"found": scope["found"]}
with open(sys.argv[2], "w") as out:
    json.dump({"found": found, "real": real}, out)
"""


@pytest.fixture(scope="module")
def tried(tmp_path_factory):
    """What the runner's shell did with each import and use, in one child process."""
    out = tmp_path_factory.mktemp("colab") / "found.json"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(POPULAR), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def _top(key: str) -> str:
    imports = POPULAR[key][0].splitlines()[-1].split()
    return imports[1].partition(".")[0]


def test_at_least_25_popular_packages_are_tried():
    assert len({_top(key) for key in POPULAR}) >= 25


@pytest.mark.parametrize("key", POPULAR)
def test_an_import_succeeds_and_only_a_use_of_a_missing_package_fails_with_the_sentence(tried, key):
    found, top = tried["found"][key], _top(key)
    assert found["import"] is None, found
    if top not in PACKAGES.stand_ins or tried["real"].get(top):
        assert found["use"] is None, found  # installed: it works as on Colab
        return
    kind, message, name = found["use"]
    assert (kind, name) == ("ModuleNotFoundError", top), found
    assert message.startswith(f"No module named '{top}' ({top}."), message
    words = missing_package(SimpleNamespace(assignment=ASSIGNMENT), message)
    package = PACKAGES.stand_ins[top]
    assert f"The package `{package}` is not installed on Gradescope's grader" in words, words
    assert "this assignment does not need it" in words and "remove that use" in words, words


def test_a_module_colab_lacks_too_still_fails_and_a_guarded_import_takes_its_own_branch(tried):
    found = tried["found"]
    assert found["absent"]["use"][:2] == ["ModuleNotFoundError", "No module named 'nonexistent_pkg_xyz'"]
    assert found["absent_sub"]["use"][0] == "ModuleNotFoundError"  # a submodule an installed package lacks
    assert found["guarded"]["use"] is None  # `except ImportError: pd = None` ran
    assert found["guarded_pip"]["use"] is None  # `!pip install` is skipped, the import in the handler succeeds
    assert any("`import pandas` inside a `try` failed" in note for note in found["notes"]), found["notes"]
    assert found["guarded_raise"]["use"] is None  # a handler that raises: the stand-in is imported instead
    assert found["isinstance"]["use"] is None  # nothing is an instance of a missing package
    assert found["hints"]["use"] is None  # annotations naming it are not a use
    assert found["star"]["use"] is None
    assert found["library"] == {"found": False}  # library code probing an optional dependency is told the truth
    words = missing_package(SimpleNamespace(assignment=ASSIGNMENT), "No module named 'nonexistent_pkg_xyz'")
    assert "`nonexistent_pkg_xyz` is not installed on Gradescope's grader" in words


def test_the_solution_with_every_popular_import_unused_scores_full_marks(grade_notebook):
    imports = "\n".join(dict.fromkeys(imports for imports, _ in POPULAR.values()))
    nb = edit_cell(solution(steps=STEPS), 1, "import torch\n", imports + "\nimport torch\n")
    nb.cells.append(nbformat.v4.new_code_cell("plt.plot([1, 2], [3, 4])\nplt.show()\nprint(np.arange(3))"))
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS, results["output"]
    assert results["extra_data"]["failed_cells"] == [cell_number(nb, "# ValueError")]


def test_a_use_in_a_cell_of_its_own_fails_that_cell_with_the_sentence_and_nothing_else(grade_notebook):
    nb = edit_cell(solution(), 1, "import torch\n", "import torch\nimport seaborn as sns\nimport pandas as pd\n")
    forward = cell_number(nb, "def forward(")
    after = nb.cells.index(code_cells(nb)[forward - 1]) + 1
    nb.cells.insert(after, nbformat.v4.new_code_cell("df = pd.DataFrame({'loss': [1.0]})\nsns.lineplot(data=df)"))
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS, results["output"]
    assert results["extra_data"]["failed_cells"] == [cell_number(nb, "# ValueError"), forward + 1]
    line = next(line for line in results["output"].splitlines() if line.startswith(f"- cell {forward + 1} "))
    assert "No module named 'pandas' (pandas.DataFrame was used)" in line, line
    assert "The package `pandas` is not installed on Gradescope's grader, and this assignment does not need it" in line


def test_a_use_that_stops_the_import_cell_names_the_package_and_later_failures_say_same_cause(grade_notebook):
    nb = edit_cell(
        solution(),
        1,
        "import torch.nn as nn",
        "import pandas as pd\npd.set_option('display.max_columns', None)\nimport torch.nn as nn",
    )
    results = grade_notebook(nb)
    assert results["score"] < FULL_MARKS
    listed = [line for line in results["output"].splitlines() if line.startswith("- cell ")]
    first, *later = [line for line in listed if not line.startswith(f"- cell {cell_number(nb, '# ValueError')} ")]
    assert first.startswith("- cell 1 ") and "The package `pandas` is not installed on Gradescope's grader" in first
    assert "(pandas.set_option was used)" in first and "remove that use" in first
    assert later, listed
    for line in later:
        assert "same cause as cell 1" in line or "NameError" not in line, line
        assert "not installed" not in line, line  # said once, where it happened
    toy = next(test["output"] for test in results["tests"] if test["number"] == "4.1")
    assert "The package `pandas` is not installed on Gradescope's grader" in toy, toy
    trained = next(test["output"] for test in results["tests"] if test["number"] == "5.1")
    assert "**First cause:** cell 1 (`import torch`) raised `ModuleNotFoundError" in trained, trained
    toymodel = cell_number(nb, "class ToyModel(")
    assert f"Cell {toymodel}, which defines `ToyModel`, failed from the same cause." in trained, trained
