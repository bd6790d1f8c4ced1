"""The reader's autograd verdict (A0's reading on scan.autograd_in): what the `backprop` that runs calls, never words.

Fairness: correct hand-written styles students write are never flagged. Autograd styles, including the ones
written to hide from a word search, are flagged with the lines as evidence."""

import json
from pathlib import Path

import pytest

from grader.notebook.scan import autograd_in, grader_probing


def backprop_autograd(sources: list) -> list:
    """What A0's reading (assignments/a0/readings.py `autograd`) finds in these code cells."""
    return autograd_in(sources, "backprop")


IMPORTS = "import torch\nimport torch.nn as nn\n"
BY_HAND = """def backprop(x):
    z1 = x @ W1 + B1
    h = z1.relu()
    y_hat = torch.sigmoid(h @ W2 + B2)
    g = 2 * (y_hat - Y) * y_hat * (1 - y_hat)
    hg = (g @ W2.T) * (z1 > 0).float()
    return x.T @ hg, hg.sum(0), h.T @ g, g.sum(0)
"""
SANITY = """W1.requires_grad_()
loss = ((forward(X) - Y) ** 2).sum()
loss.backward()
print(torch.allclose(W1.grad, backprop(X)[0]))
"""

HONEST = {
    "plain": [IMPORTS, BY_HAND],
    "ipython_line_and_sanity_check_below": [IMPORTS, "%%time\n" + BY_HAND + "\n" + SANITY],
    "matplotlib_and_pip_lines": [IMPORTS, "%matplotlib inline\n!pip install numpy\n" + BY_HAND + SANITY],
    "set_grad_enabled_false_wrapper": [
        IMPORTS,
        BY_HAND.replace("def backprop(x):", "def _bp(x):")
        + "def backprop(x):\n    with torch.set_grad_enabled(False):\n        return _bp(x)\n",
    ],
    "no_grad_decorator": [IMPORTS, "@torch.no_grad()\n" + BY_HAND],
    "requires_grad_false": [
        IMPORTS,
        BY_HAND.replace("    z1 = x @ W1 + B1\n", "    x = x.clone().requires_grad_(False)\n    z1 = x @ W1 + B1\n"),
    ],
    "unused_import_torch_autograd": ["import torch\nimport torch.autograd\nfrom torch.autograd import grad\n", BY_HAND],
    "docstring_and_comments": [
        IMPORTS,
        BY_HAND.replace(
            "def backprop(x):\n",
            'def backprop(x):\n    """Unlike loss.backward() or torch.autograd.grad, computed by hand."""\n'
            "    # no autograd, no .backward(), no enable_grad here\n",
        ),
    ],
    "own_layer_classes_with_backward": [
        IMPORTS,
        """class Linear:
    def __init__(self, W, b):
        self.W, self.b = W, b
    def forward(self, x):
        self.x = x
        return x @ self.W + self.b
    def backward(self, grad):
        self.W_grad, self.b_grad = self.x.T @ grad, grad.sum(0)
        return grad @ self.W.T

class ReLU:
    def forward(self, x):
        self.mask = (x > 0).float()
        return x * self.mask
    def backward(self, grad):
        return grad * self.mask

class Sigmoid:
    def forward(self, x):
        self.y = torch.sigmoid(x)
        return self.y
    def backward(self, grad):
        return grad * self.y * (1 - self.y)
""",
        """def backprop(x):
    layers = [Linear(W1, B1), ReLU(), Linear(W2, B2), Sigmoid()]
    out = x
    for layer in layers:
        out = layer.forward(out)
    grad = 2 * (out - Y)
    for layer in reversed(layers):
        grad = layer.backward(grad)
    return layers[0].W_grad, layers[0].b_grad, layers[2].W_grad, layers[2].b_grad
""",
    ],
    "autograd_check_in_another_cell": [
        IMPORTS,
        BY_HAND,
        "W1.requires_grad = True\nloss = ((forward(X) - Y)**2).sum()\nloss.backward()\ng = torch.autograd.grad\n",
    ],
    "an_earlier_autograd_version_replaced": [
        IMPORTS,
        "def backprop(x):\n    loss = ((forward(x) - Y)**2).sum()\n    loss.backward()\n    return W1.grad\n",
        BY_HAND,
    ],
    "helper_functions_in_another_cell": [
        IMPORTS,
        "def sigmoid_grad(y):\n    return y * (1 - y)\n\ndef relu_grad(z):\n    return (z > 0).float()\n",
        """def backprop(x):
    z1 = x @ W1 + B1
    h = torch.relu(z1)
    y_hat = torch.sigmoid(h @ W2 + B2)
    g = 2 * (y_hat - Y) * sigmoid_grad(y_hat)
    hg = (g @ W2.T) * relu_grad(z1)
    return x.T @ hg, hg.sum(0), h.T @ g, g.sum(0)
""",
    ],
    "einsum_and_no_grad_block": [
        IMPORTS,
        BY_HAND.replace("    z1 = x @ W1 + B1\n", "    with torch.no_grad():\n        pass\n    z1 = x @ W1 + B1\n")
        + "grad_mode = torch.autograd.grad_mode.no_grad\n",
    ],
}

LOSS = "    loss = ((forward(x) - Y)**2).sum()\n"
AUTOGRAD = {
    "dot_backward": "def backprop(x):\n" + LOSS + "    loss.backward()\n    return W1.grad\n",
    "autograd_grad": "def backprop(x):\n" + LOSS + "    return torch.autograd.grad(loss, [W1, B1, W2, B2])\n",
    "autograd_grad_imported": "from torch.autograd import grad as g\n"
    "def backprop(x):\n    with torch.enable_grad():\n        return g(((forward(x) - Y)**2).sum(), [W1])\n",
    "torch_func": "from torch.func import grad\ndef backprop(x):\n    return grad(lambda w: ((x @ w).sum()))(W1)\n",
    "engine_entry_point_in_helper": "from torch.autograd import Variable\n"
    "run = Variable._execution_engine.run_backward\n"
    "def helper(loss):\n    run((loss,), (torch.ones(()),), False, False, (W1,), False, False)\n",
    "grad_fn_walk": """def backprop(x):
    torch._C._set_grad_enabled(True)
    loss = ((forward(x) - Y) ** 2).sum()
    node = loss.grad_fn
    grads = node(torch.ones(()))
    return grads
""",
    "getattr_engine": "def backprop(x):\n    e = getattr(torch.autograd.Variable, '_execution_engine')\n    return e\n",
    "enable_grad_decorator": "@torch.enable_grad()\ndef backprop(x):\n    return helper2(x)\n",
    "tensor_backward_own_classes_present": "class L:\n    def backward(self, g):\n        return g\n"
    "def backprop(x):\n" + LOSS + "    loss.backward()\n    return W1.grad\n",
    "own_class_method_uses_autograd": "class Net:\n    def grads(self, x):\n"
    "        return torch.autograd.grad(x.sum(), [W1])\n"
    "def backprop(x):\n    return Net().grads(x)\n",
    "exec": "def backprop(x):\n    exec('import torch; loss.backward()')\n",
}


@pytest.mark.parametrize("style", sorted(HONEST))
def test_hand_written_backprop_is_never_flagged(style):
    assert backprop_autograd(HONEST[style]) == []


@pytest.mark.parametrize("style", sorted(AUTOGRAD))
def test_autograd_backprop_is_flagged_with_its_lines(style):
    source = AUTOGRAD[style]
    if "def backprop" not in source:  # the helper is in another cell, called by backprop
        cells = [IMPORTS, source, "def backprop(x):\n    helper(((forward(x) - Y)**2).sum())\n    return W1.grad\n"]
    else:
        cells = [IMPORTS, "def helper2(x):\n    return x\n", source]
    evidence = backprop_autograd(cells)
    assert evidence, style
    assert all(line.startswith("cell ") and ", line " in line for line in evidence)


def test_evidence_names_the_cell_and_the_line():
    evidence = backprop_autograd([IMPORTS, "%%time\n" + AUTOGRAD["dot_backward"]])
    assert evidence == ["cell 2, line 4: loss.backward()"]


def test_the_last_definition_is_the_one_that_runs():
    assert backprop_autograd([IMPORTS, BY_HAND, AUTOGRAD["dot_backward"]])
    assert not backprop_autograd([IMPORTS, AUTOGRAD["dot_backward"], BY_HAND])
    # a cell that does not parse defines nothing: the earlier definition still runs
    assert backprop_autograd([IMPORTS, AUTOGRAD["dot_backward"], BY_HAND + "\n)("])


def test_nested_definitions_and_conditional_definitions_count():
    nested = "if True:\n    def backprop(x):\n        def inner():\n            loss.backward()\n        inner()\n"
    assert backprop_autograd([IMPORTS, nested])
    assert backprop_autograd(
        [IMPORTS, "def helper2(x): pass\n", "backprop_impl = 1\n", "def b(x):\n    loss.backward()\nbackprop = b\n"]
    )


def test_no_backprop_and_odd_input():
    assert backprop_autograd([]) == []
    assert backprop_autograd([None, 3, "def backprop(:"]) == []
    deep = "def backprop(x):\n    return " + "(" * 5000 + "x" + ")" * 5000 + "\n"
    assert backprop_autograd([deep]) == []


def _notebook_code(path: Path) -> list:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def test_reaching_into_the_grader_is_read_in_the_code_not_in_words():
    root = Path(__file__).resolve().parents[1]
    honest = [
        *_notebook_code(root / "solution" / "A0.ipynb"),
        *_notebook_code(root / "source" / "A0.ipynb"),
        *(cells for style in HONEST.values() for cells in style),
        "import torch, random, sys\nimport numpy as np\ntorch.backends.cudnn.deterministic = True\n"
        "np.random.seed(0)\nrandom.seed(0)\nclass Net:\n    pass\nnet = Net()\nnet.lr = 0.1\n"
        "sys.stdout = open('log.txt', 'w')\nprint('the grader. uses gc.get_objects and Reporter')\n"
        "# gc.get_objects()\n",
    ]
    assert grader_probing(honest) == []
    attacks = {
        "import gc\nR = [o for o in gc.get_objects() if 1]\n": "gc.get_objects()",
        "import sys\nf = sys._getframe(1)\n": "sys._getframe",
        "import torch\ntorch.Tensor.__matmul__ = lambda a, b: a\n": "__matmul__",
        "import json\njson.loads = print\n": "json.loads",
        "import torch\nsetattr(torch.autograd, 'grad', print)\n": "setattr",
        "import os\nos.write(5, b'{}\\n')\n": "os.write",
        "from grader.child import report\n": "grader.child",
        "import ctypes\nctypes.pythonapi.PyFrame_LocalsToFast\n": "ctypes",
        "x = open('/proc/self/fd/5')\n": "/proc/self/fd",
    }
    for code, word in attacks.items():
        evidence = grader_probing(["import torch\n", code])
        assert evidence and word in evidence[0] and evidence[0].startswith("cell 2, line "), (code, evidence)


def test_a_written_module_is_code_only_where_it_is_imported():
    """`%%writefile` text is no notebook code; the module it writes is followed once backprop reaches an import of it
    (`import m`, `from m import f`, `from m import *`, `importlib.import_module` of a name built from constants)."""
    module = (
        "%%writefile helpers_ag.py\nimport torch\n\ndef grads(loss, params):\n"
        "    return torch.autograd.grad(loss, params)\n\ndef backprop(x):\n    loss.backward()\n"
    )
    call = "def backprop(x):\n    return grads(((forward(x) - Y)**2).sum(), [W1])\n"
    assert backprop_autograd([IMPORTS, module, BY_HAND]) == []
    assert backprop_autograd([IMPORTS, module, "def grads(loss, params):\n    return [0]\n", call]) == []
    for imported in (
        "from helpers_ag import grads\n",
        "from helpers_ag import *\n",
        "import helpers_ag\ngrads = helpers_ag.grads\n",
        "import importlib\nm = importlib.import_module('helpers' + '_ag')\ngrads = m.grads\n",
    ):
        evidence = backprop_autograd([IMPORTS, module, imported + call])
        line = "file helpers_ag.py (written by cell 2), line 4: return torch.autograd.grad(loss, params)"
        assert evidence == [line], imported


def test_names_resolve_as_python_resolves_them():
    """A function's own variables are not the notebook's globals of the same name; its globals are."""
    check = "loss = ((forward(X) - Y)**2).sum()\ngrads = torch.autograd.grad(loss, [W1])\n"
    local = "def backprop(x):\n    grads = [x.T @ x]\n    return grads\n"
    assert backprop_autograd([IMPORTS, local, check]) == []
    global_ = "def backprop(x):\n    return grads\n"
    assert backprop_autograd([IMPORTS, global_, check]) == ["cell 3, line 2: grads = torch.autograd.grad(loss, [W1])"]
    checker = "def grad(f, w):\n    return torch.autograd.grad(f(w), w)\n"
    uses_local = "def backprop(x):\n    grad = lambda z: z * 2\n    return grad(x)\n"
    uses_global = "def backprop(x):\n    return grad(lambda w: (x @ w).sum(), W1)\n"
    assert backprop_autograd([IMPORTS, checker, uses_local]) == []
    assert backprop_autograd([IMPORTS, checker, uses_global]) == ["cell 2, line 2: return torch.autograd.grad(f(w), w)"]
    shadowed = "def backprop(x, torch=None):\n    return torch.autograd.grad(x, [W1])\n"  # not the module
    assert backprop_autograd([IMPORTS, shadowed]) == []
    default = "def backprop(x, t=torch):\n    return t.autograd.grad(x, [W1])\n"  # the module, by its default
    assert backprop_autograd([IMPORTS, default]) == ["cell 2, line 2: return t.autograd.grad(x, [W1])"]


def test_a_definition_that_never_runs_does_not_hide_the_one_that_does():
    autograd = AUTOGRAD["dot_backward"]
    for dead in ("if False:\n", "if 0:\n", "if not True:\n", "if __name__ != '__main__':\n", "while False:\n"):
        decoy = dead + "".join("    " + line + "\n" for line in BY_HAND.splitlines())
        assert backprop_autograd([IMPORTS, autograd, decoy]), dead
        dead_autograd = dead + "".join("    " + line + "\n" for line in autograd.splitlines())
        assert not backprop_autograd([IMPORTS, BY_HAND, dead_autograd]), dead
    assert backprop_autograd([IMPORTS, autograd, "raise SystemExit('stop here')\n" + BY_HAND])
    assert backprop_autograd([IMPORTS, autograd, "assert False\n" + BY_HAND])
    assert not backprop_autograd([IMPORTS, autograd, "if __name__ == '__main__':\n    pass\n" + BY_HAND])
