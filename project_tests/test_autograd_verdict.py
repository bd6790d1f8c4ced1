"""No honest backprop is accused of autograd; every autograd style is flagged for the staff, and the student is told
only when both observations agree: the reader's (autograd in the code `backprop` reaches, names resolved as Python
resolves them) and the runner's (torch's profiler saw autograd's engine run while the grader called `backprop`).

Each style has its own tiny notebook (weights set directly, no training) and its own verdicts: the reader's, read
from the cells directly, and the whole grading's (results.json: extra_data flags and sources, the student's words)."""

import textwrap

import pytest
from conftest import grade, grader_copy, output_of, save, scores
from test_autograd_scan import HONEST

from grader.notebook.scan import autograd_in

PRELUDE = [
    "import torch\nimport torch.nn as nn\n",
    "torch.manual_seed(0)\nW1 = torch.randn(3, 4) * 0.5\nB1 = torch.zeros(1, 4)\nW2 = torch.randn(4, 2) * 0.5\n"
    "B2 = torch.zeros(1, 2)\nX = torch.randn(20, 3)\nY = torch.rand(20, 2)\n",
    "def forward(x):\n    return torch.sigmoid(torch.relu(x @ W1 + B1) @ W2 + B2)\n",
]
BODY = """    z1 = x @ W1 + B1
    h = torch.relu(z1)
    y_hat = torch.sigmoid(h @ W2 + B2)
    g = 2 * (y_hat - Y) * y_hat * (1 - y_hat)
    hg = (g @ W2.T) * (z1 > 0).float()
"""
BY_HAND = "def backprop(x):\n" + BODY + "    return x.T @ hg, hg.sum(0), h.T @ g, g.sum(0)\n"
LAYERS = HONEST["own_layer_classes_with_backward"][1]  # the same classes the scan test reads
LOSS_OF = """def loss_of(x, w1, b1, w2, b2):
    return ((torch.sigmoid(torch.relu(x @ w1 + b1) @ w2 + b2) - Y) ** 2).sum()
"""
ENABLED = """    with torch.enable_grad():
        params = [p.detach().clone().requires_grad_() for p in (W1, B1, W2, B2)]
        loss = loss_of(x, *params)
"""

HONEST = {
    "plain": [BY_HAND],
    "own_layer_classes": [
        LAYERS,
        "def backprop(x):\n    layers = [Linear(W1, B1), ReLU(), Linear(W2, B2), Sigmoid()]\n    out = x\n"
        "    for layer in layers:\n        out = layer.forward(out)\n    grad = 2 * (out - Y)\n"
        "    for layer in reversed(layers):\n        grad = layer.backward(grad)\n"
        "    return layers[0].W_grad, layers[0].b_grad, layers[2].W_grad, layers[2].b_grad\n",
    ],
    "subscripted_layers": [
        LAYERS,
        "def backprop(x):\n    layers = [Linear(W1, B1), ReLU(), Linear(W2, B2), Sigmoid()]\n    out = x\n"
        "    for i in range(len(layers)):\n        out = layers[i].forward(out)\n    grad = 2 * (out - Y)\n"
        "    for i in range(len(layers) - 1, -1, -1):\n        grad = layers[i].backward(grad)\n"
        "    return layers[0].W_grad, layers[0].b_grad, layers[2].W_grad, layers[2].b_grad\n",
    ],
    "appended_layers_and_a_picked_layer": [
        LAYERS,
        "def backprop(x):\n    net = []\n    net.append(Linear(W1, B1))\n    net.append(ReLU())\n"
        "    net.append(Linear(W2, B2))\n    net.append(Sigmoid())\n    out = x\n    for layer in net:\n"
        "        out = layer.forward(out)\n    grad = 2 * (out - Y)\n    for i in reversed(range(4)):\n"
        "        layer = net[i]\n        grad = layer.backward(grad)\n"
        "    return net[0].W_grad, net[0].b_grad, net[2].W_grad, net[2].b_grad\n",
    ],
    "layers_in_a_class_dict": [
        LAYERS,
        "class MLP:\n    def __init__(self):\n        self.layers = {'fc1': Linear(W1, B1), 'act': ReLU(), "
        "'fc2': Linear(W2, B2), 'out': Sigmoid()}\n    def forward(self, x):\n"
        "        for name in ['fc1', 'act', 'fc2', 'out']:\n            x = self.layers[name].forward(x)\n"
        "        return x\n    def backward(self, grad):\n        for name in ['out', 'fc2', 'act', 'fc1']:\n"
        "            grad = self.layers[name].backward(grad)\n\n"
        "def backprop(x):\n    net = MLP()\n    out = net.forward(x)\n    net.backward(2 * (out - Y))\n"
        "    fc1, fc2 = net.layers['fc1'], net.layers['fc2']\n"
        "    return fc1.W_grad, fc1.b_grad, fc2.W_grad, fc2.b_grad\n",
    ],
    "check_cell_after_with_autograd_grad": [
        "def backprop(x):\n" + BODY + "    grads = (x.T @ hg, hg.sum(0), h.T @ g, g.sum(0))\n    return grads\n",
        "params = [p.clone().requires_grad_() for p in (W1, B1, W2, B2)]\n"
        "loss = ((torch.sigmoid(torch.relu(X @ params[0] + params[1]) @ params[2] + params[3]) - Y) ** 2).sum()\n"
        "grads = torch.autograd.grad(loss, params)\n"
        "print([torch.allclose(a, b.reshape(a.shape), atol=1e-5) for a, b in zip(grads, backprop(X))])\n",
    ],
    "grad_fn_guard": [
        "def backprop(x):\n    if x.grad_fn is not None:\n        x = x.detach()\n"
        + BODY
        + "    return x.T @ hg, hg.sum(0), h.T @ g, g.sum(0)\n"
    ],
    "separate_grad_checker_and_local_grad": [
        "def grad(f, w):\n    w = w.clone().requires_grad_()\n    return torch.autograd.grad(f(w), w)[0]\n\n"
        "print(grad(lambda w: ((X @ w) ** 2).sum(), W1).shape)\n",
        "def backprop(x):\n" + BODY + "    grad = {'W1': x.T @ hg, 'B1': hg.sum(0), 'W2': h.T @ g, 'B2': g.sum(0)}\n"
        "    return grad['W1'], grad['B1'], grad['W2'], grad['B2']\n",
    ],
    "writefile_reference_with_another_backprop": [
        "%%writefile reference_autograd.py\nimport torch\n\ndef backprop(x, W1, B1, W2, B2, Y):\n"
        "    params = [p.clone().requires_grad_() for p in (W1, B1, W2, B2)]\n"
        "    loss = ((torch.sigmoid(torch.relu(x @ params[0] + params[1]) @ params[2] + params[3]) - Y) ** 2).sum()\n"
        "    loss.backward()\n    return [p.grad for p in params]\n",
        BY_HAND,
    ],
    "writefile_helpers_imported": [
        "%%writefile mlp_helpers.py\nimport torch\n\ndef sigmoid_grad(s):\n    return s * (1 - s)\n\n"
        "def relu_grad(z):\n    return (z > 0).float()\n",
        "from mlp_helpers import sigmoid_grad, relu_grad\nimport mlp_helpers\n\ndef backprop(x):\n"
        "    z1 = x @ W1 + B1\n    h = torch.relu(z1)\n    y_hat = torch.sigmoid(h @ W2 + B2)\n"
        "    g = 2 * (y_hat - Y) * sigmoid_grad(y_hat)\n    hg = (g @ W2.T) * mlp_helpers.relu_grad(z1)\n"
        "    return x.T @ hg, hg.sum(0), h.T @ g, g.sum(0)\n",
    ],
    "argparse_cell": [
        "import argparse, sys\nsys.argv = ['']\nparser = argparse.ArgumentParser()\n"
        "parser.add_argument('--lr', type=float, default=0.1)\nargs = parser.parse_args()\n",
        BY_HAND,
    ],
    "functional_style_with_parameters": [
        "def backprop(x, params=None):\n    w1, b1, w2, b2 = params if params is not None else (W1, B1, W2, B2)\n"
        "    z1 = x @ w1 + b1\n    h = torch.relu(z1)\n    y_hat = torch.sigmoid(h @ w2 + b2)\n"
        "    g = 2 * (y_hat - Y) * y_hat * (1 - y_hat)\n    hg = (g @ w2.T) * (z1 > 0).float()\n"
        "    return x.T @ hg, hg.sum(0), h.T @ g, g.sum(0)\n"
    ],
    "closure_factory": [
        "def make_backprop(loss_grad):\n    def backprop_fn(x):\n        z1 = x @ W1 + B1\n        h = torch.relu(z1)\n"
        "        y_hat = torch.sigmoid(h @ W2 + B2)\n        g = loss_grad(y_hat, Y) * y_hat * (1 - y_hat)\n"
        "        hg = (g @ W2.T) * (z1 > 0).float()\n        return x.T @ hg, hg.sum(0), h.T @ g, g.sum(0)\n"
        "    return backprop_fn\n\nbackprop = make_backprop(lambda y_hat, y: 2 * (y_hat - y))\n"
    ],
    "helper_functions_in_another_cell": [
        "def sigmoid_backward(s, grad):\n    return grad * s * (1 - s)\n\ndef relu_backward(z, grad):\n"
        "    return grad * (z > 0).float()\n",
        "def backprop(x):\n    z1 = x @ W1 + B1\n    h = torch.relu(z1)\n    y_hat = torch.sigmoid(h @ W2 + B2)\n"
        "    g = sigmoid_backward(y_hat, 2 * (y_hat - Y))\n    hg = relu_backward(z1, g @ W2.T)\n"
        "    return x.T @ hg, hg.sum(0), h.T @ g, g.sum(0)\n",
    ],
    "callable_class_instance": [
        "class Backprop:\n    def __call__(self, x):\n"
        + BODY.replace("    ", "        ")
        + "        return x.T @ hg, hg.sum(0), h.T @ g, g.sum(0)\n\nbackprop = Backprop()\n"
    ],
    "lambdas": [
        "sigmoid = lambda z: 1 / (1 + torch.exp(-z))\n"
        "dsigmoid = lambda s: s * (1 - s)\nrelu = lambda z: z.clamp(min=0)\n",
        "def backprop(x):\n    z1 = x @ W1 + B1\n    h = relu(z1)\n    y_hat = sigmoid(h @ W2 + B2)\n"
        "    g = 2 * (y_hat - Y) * dsigmoid(y_hat)\n    hg = (g @ W2.T) * (z1 > 0).float()\n"
        "    return x.T @ hg, hg.sum(0), h.T @ g, g.sum(0)\n",
    ],
    "numpy_based": [
        "import numpy as np\n\n"
        "def backprop(x):\n    xn, w1, b1, w2, b2, y = (t.numpy() for t in (x, W1, B1, W2, B2, Y))\n"
        "    z1 = xn @ w1 + b1\n    h = np.maximum(z1, 0)\n    y_hat = 1 / (1 + np.exp(-(h @ w2 + b2)))\n"
        "    g = 2 * (y_hat - y) * y_hat * (1 - y_hat)\n    hg = (g @ w2.T) * (z1 > 0)\n"
        "    grads = (xn.T @ hg, hg.sum(0), h.T @ g, g.sum(0))\n"
        "    return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in grads)\n"
    ],
    "no_grad_decorator": ["@torch.no_grad()\n" + BY_HAND],
    "set_grad_enabled_false_wrapper": [
        BY_HAND.replace("def backprop(x):", "def _bp(x):")
        + "\ndef backprop(x):\n    with torch.set_grad_enabled(False):\n        return _bp(x)\n"
    ],
    "sanity_backward_at_top_level_before": [
        "W1.requires_grad_(True)\nloss = ((forward(X) - Y) ** 2).sum()\nloss.backward()\nprint(W1.grad)\n"
        "W1.requires_grad_(False)\n",
        BY_HAND,
    ],
    "earlier_autograd_version_replaced": [
        "def backprop(x):\n    loss = ((forward(x) - Y) ** 2).sum()\n    loss.backward()\n    return W1.grad\n",
        BY_HAND,
    ],
    "docstring_and_comments": [
        BY_HAND.replace(
            "def backprop(x):\n",
            'def backprop(x):\n    """Unlike loss.backward() or torch.autograd.grad, by hand."""\n'
            "    # no autograd, no .backward(), no torch.enable_grad() here\n",
        )
    ],
    "per_sample_loop": [
        "def backprop(x):\n"
        "    grads = [torch.zeros_like(p) for p in (W1, B1, W2, B2)]\n    for i in range(x.shape[0]):\n"
        "        xi, yi = x[i:i + 1], Y[i:i + 1]\n        z1 = xi @ W1 + B1\n        h = torch.relu(z1)\n"
        "        y_hat = torch.sigmoid(h @ W2 + B2)\n        g = 2 * (y_hat - yi) * y_hat * (1 - y_hat)\n"
        "        hg = (g @ W2.T) * (z1 > 0).float()\n"
        "        for total, part in zip(grads, (xi.T @ hg, hg, h.T @ g, g)):\n            total += part\n"
        "    return tuple(grads)\n"
    ],
    "einsum": [
        "def backprop(x):\n    z1 = torch.einsum('ni,ij->nj', x, W1) + B1\n    h = torch.relu(z1)\n"
        "    y_hat = torch.sigmoid(torch.einsum('nj,jk->nk', h, W2) + B2)\n"
        "    g = 2 * (y_hat - Y) * y_hat * (1 - y_hat)\n    hg = torch.einsum('nk,jk->nj', g, W2) * (z1 > 0)\n"
        "    return torch.einsum('ni,nj->ij', x, hg), hg.sum(0), torch.einsum('nj,nk->jk', h, g), g.sum(0)\n"
    ],
    "dead_autograd_decoy_after": [
        BY_HAND,
        "if False:\n    def backprop(x):\n        loss = ((forward(x) - Y) ** 2).sum()\n        loss.backward()\n"
        "        return W1.grad\n",
    ],
    "exercise3_cell_prints_grad_fn": [
        "a = torch.tensor([1.0, 2.0], requires_grad=True)\nb = (a * 2).sum()\nprint(b.grad_fn)\nb.backward()\n"
        "print(a.grad)\n",
        BY_HAND,
    ],
    "local_function_named_backward": [
        "def backprop(x):\n"
        + BODY.replace("    hg = (g @ W2.T)", "    backward = lambda up: up @ W2.T\n    hg = backward(g)")
        + "    return x.T @ hg, hg.sum(0), h.T @ g, g.sum(0)\n"
    ],
    "checker_in_the_same_cell_not_called": [
        BY_HAND + "\ndef check():\n"
        "    p = W1.clone().requires_grad_()\n"
        "    l = ((torch.sigmoid(torch.relu(X @ p + B1) @ W2 + B2) - Y) ** 2).sum()\n"
        "    return torch.allclose(torch.autograd.grad(l, p)[0], backprop(X)[0], atol=1e-5)\n\nprint(check())\n"
    ],
    "time_cell_magic": ["%%time\n" + BY_HAND],
}

AUTOGRAD = {  # style -> (cells, who sees it: "both", "reader" or "runner")
    "dot_backward": (
        [LOSS_OF, "def backprop(x):\n" + ENABLED + "    loss.backward()\n    return [p.grad for p in params]\n"],
        "both",
    ),
    "autograd_grad": (
        [LOSS_OF, "def backprop(x):\n" + ENABLED + "    return torch.autograd.grad(loss, params)\n"],
        "both",
    ),
    "autograd_backward_function": (
        [
            LOSS_OF,
            "def backprop(x):\n" + ENABLED + "    torch.autograd.backward(loss)\n    return [p.grad for p in params]\n",
        ],
        "both",
    ),
    "functional_jacobian": (
        [
            LOSS_OF,
            "from torch.autograd.functional import jacobian\n\ndef backprop(x):\n"
            "    return jacobian(lambda *p: loss_of(x, *p), (W1, B1, W2, B2))\n",
        ],
        "both",
    ),
    "functional_vjp": (
        [
            LOSS_OF,
            "import torch.autograd.functional as AF\n\ndef backprop(x):\n"
            "    _, grads = AF.vjp(lambda *p: loss_of(x, *p), (W1, B1, W2, B2))\n    return grads\n",
        ],
        "both",
    ),
    "helper_function_in_another_cell": (
        [
            LOSS_OF,
            "def loss_gradients(x):\n" + ENABLED + "    loss.backward()\n    return [p.grad for p in params]\n",
            "def backprop(x):\n    return loss_gradients(x)\n",
        ],
        "both",
    ),
    "getattr_with_assembled_names": (
        [
            LOSS_OF,
            "def backprop(x):\n    with getattr(torch, 'enable' + '_grad')():\n"
            "        params = [p.detach().clone().requires_grad_() for p in (W1, B1, W2, B2)]\n"
            "        name = ''.join(['g', 'r', 'a', 'd'])\n"
            "        return getattr(torch.autograd, name)(loss_of(x, *params), params)\n",
        ],
        "both",
    ),
    "written_module_by_writefile": (
        [
            "%%writefile fast_grads.py\nimport torch\n\ndef grads(loss_of, x, params):\n    with torch.enable_grad():\n"
            "        params = [p.detach().clone().requires_grad_() for p in params]\n"
            "        return torch.autograd.grad(loss_of(x, *params), params)\n",
            LOSS_OF,
            "from fast_grads import grads\n\ndef backprop(x):\n    return grads(loss_of, x, (W1, B1, W2, B2))\n",
        ],
        "both",
    ),
    "written_module_from_a_string": (
        [
            "SOURCE = '''import torch\n\ndef grads(loss_of, x, params):\n    with torch.enable_grad():\n"
            "        params = [p.detach().clone().requires_grad_() for p in params]\n"
            "        return torch.autograd.grad(loss_of(x, *params), params)\n'''\n"
            "with open('string_grads.py', 'w') as f:\n    f.write(SOURCE)\n",
            LOSS_OF,
            "import string_grads\n\ndef backprop(x):\n    return string_grads.grads(loss_of, x, (W1, B1, W2, B2))\n",
        ],
        "both",
    ),
    "daemon_thread_answers": (
        [
            LOSS_OF,
            "import threading, queue\nREQUESTS, ANSWERS = queue.Queue(), queue.Queue()\n\ndef _worker():\n"
            "    while True:\n        x = REQUESTS.get()\n        with torch.enable_grad():\n"
            "            params = [p.detach().clone().requires_grad_() for p in (W1, B1, W2, B2)]\n"
            "            ANSWERS.put(torch.autograd.grad(loss_of(x, *params), params))\n\n"
            "threading.Thread(target=_worker, daemon=True).start()\n",
            "def backprop(x):\n    REQUESTS.put(x)\n    return ANSWERS.get(timeout=5)\n",
        ],
        "runner",
    ),
    "names_built_at_run_time": (  # no text holds the names: only the runner can see it
        [
            LOSS_OF,
            "CODES = ([101, 110, 97, 98, 108, 101, 95, 103, 114, 97, 100], [103, 114, 97, 100])\n\n"
            "def backprop(x):\n    on, grad = (bytes(c).decode() for c in CODES)\n    with getattr(torch, on)():\n"
            "        params = [p.detach().clone().requires_grad_() for p in (W1, B1, W2, B2)]\n"
            "        return getattr(torch.autograd, grad)(loss_of(x, *params), params)\n",
        ],
        "runner",
    ),
    "dead_if_false_decoy_after_the_live_one": (
        [
            LOSS_OF,
            "def backprop(x):\n" + ENABLED + "    return torch.autograd.grad(loss, params)\n",
            "if False:\n" + "".join("    " + line + "\n" for line in BY_HAND.splitlines()),
        ],
        "both",
    ),
    "exec_of_a_string": (
        [
            LOSS_OF,
            BY_HAND,
            "CODE = 'def backprop(x):\\n    with torch.enable_grad():\\n'\n"
            "CODE += '        params = [p.detach().clone().requires_grad_() for p in (W1, B1, W2, B2)]\\n'\n"
            "CODE = CODE + '        return torch.autograd.grad(loss_of(x, *params), params)\\n'\nexec(CODE)\n",
        ],
        "both",
    ),
    "torch_func_grad": (
        [
            LOSS_OF,
            "from torch.func import grad as fgrad\n\ndef backprop(x):\n"
            "    return fgrad(lambda *p: loss_of(x, *p), argnums=(0, 1, 2, 3))(W1, B1, W2, B2)\n",
        ],
        "both",
    ),
    "own_class_method_uses_autograd": (
        [
            LOSS_OF,
            LAYERS,
            "class Net:\n    def gradients(self, x):\n"
            + textwrap.indent(ENABLED, "    ")
            + "        return torch.autograd.grad(loss, params)\n\ndef backprop(x):\n    return Net().gradients(x)\n",
        ],
        "both",
    ),
    "subscripted_tensor_beside_own_layers": (
        [
            LOSS_OF,
            LAYERS,
            "def backprop(x):\n" + ENABLED + "    losses = [loss]\n    losses[0].backward()\n"
            "    return [p.grad for p in params]\n",
        ],
        "both",
    ),
    "grad_fn_nodes_called": (
        [
            "def backprop(x):\n    torch._C._set_grad_enabled(True)\n"
            "    params = [p.detach().requires_grad_() for p in (W1, B1, W2, B2)]\n"
            "    w1, b1, w2, b2 = params\n"
            "    loss = ((torch.sigmoid(torch.relu(x @ w1 + b1) @ w2 + b2) - Y) ** 2).sum()\n"
            "    grads, stack = {}, [(loss.grad_fn, torch.ones(()))]\n    while stack:\n        fn, g = stack.pop()\n"
            "        if fn is None:\n            continue\n        if hasattr(fn, 'variable'):\n"
            "            v = fn.variable\n            grads[id(v)] = grads.get(id(v), 0) + g.sum_to_size(v.shape)\n"
            "            continue\n        outs = fn(g)\n        outs = outs if isinstance(outs, tuple) else (outs,)\n"
            "        stack += [(nxt, o) for (nxt, _), o in zip(fn.next_functions, outs) if o is not None]\n"
            "    torch._C._set_grad_enabled(False)\n    return tuple(grads[id(p)] for p in params)\n"
        ],
        "both",
    ),
    "forward_mode_ad": (  # autograd's forward mode: no backward function runs, so only the reader sees it
        [
            LOSS_OF,
            "import torch.autograd.forward_ad as fwAD\n\ndef backprop(x):\n    grads = []\n"
            "    for w in (W1, B1, W2, B2):\n"
            "        g = torch.zeros_like(w).reshape(-1)\n        for i in range(g.numel()):\n"
            "            tangent = torch.zeros(w.numel())\n"
            "            tangent[i] = 1\n            with fwAD.dual_level():\n"
            "                params = [fwAD.make_dual(p, tangent.reshape(p.shape)) if p is w else p\n"
            "                          for p in (W1, B1, W2, B2)]\n"
            "                g[i] = fwAD.unpack_dual(loss_of(x, *params)).tangent\n"
            "        grads.append(g.reshape(w.shape))\n"
            "    return tuple(grads)\n",
        ],
        "reader",
    ),
}
TOLD = "uses autograd"  # the student's words when both observations agree (checks.py)


@pytest.mark.parametrize("style", sorted(HONEST))
def test_the_reader_finds_no_autograd_in_an_honest_backprop(style):
    assert autograd_in(PRELUDE + HONEST[style], "backprop") == []


@pytest.mark.parametrize("style", sorted(AUTOGRAD))
def test_the_reader_finds_autograd_where_backprop_reaches_it(style):
    cells, seen_by = AUTOGRAD[style]
    evidence = autograd_in(PRELUDE + cells, "backprop")
    assert bool(evidence) == (seen_by != "runner"), evidence
    assert all(line.startswith(("cell ", "file ")) and ", line " in line for line in evidence)


def _graded(grade_notebook, cells):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in PRELUDE + cells]
    return grade_notebook(nb, "--cell-timeout", "30")


def _told(results) -> bool:
    return any(TOLD in test.get("output", "") for test in results["tests"]) or TOLD in results.get("output", "")


@pytest.mark.parametrize("style", sorted(HONEST))
def test_an_honest_backprop_is_neither_flagged_nor_told(grade_notebook, style):
    results = _graded(grade_notebook, HONEST[style])
    assert scores(results)["2.2"] == 2 and scores(results)["2.3"] == 2, output_of(results, "2.3")
    facts = results["extra_data"]
    assert "autograd_in_backprop" not in facts["flags"], facts["evidence"]
    assert not _told(results)


@pytest.mark.parametrize("style", sorted(AUTOGRAD))
def test_an_autograd_backprop_is_flagged_and_told_only_when_both_saw_it(grade_notebook, style):
    cells, seen_by = AUTOGRAD[style]
    results = _graded(grade_notebook, cells)
    facts = results["extra_data"]
    if style == "daemon_thread_answers":
        # Probes called where no thread of the notebook runs (a fork of the runner): nothing answers, nothing to flag
        assert "Empty" in output_of(results, "2.1"), output_of(results, "2.1")
        assert scores(results)["2.2"] == 0 and "autograd_in_backprop" not in facts["flags"] and not _told(results)
        return
    assert scores(results)["2.2"] == 2 and scores(results)["2.3"] == 2, output_of(results, "2.3")  # "flag": no cost
    assert "autograd_in_backprop" in facts["flags"]
    assert facts["flag_sources"]["autograd_in_backprop"] == seen_by, facts["evidence"]
    evidence = facts["evidence"]["autograd_in_backprop"]
    assert any(line.startswith("runner: autograd's engine evaluated") for line in evidence) == (seen_by != "reader")
    assert any(line.startswith(("cell ", "file ")) for line in evidence) == (seen_by != "runner")
    assert _told(results) == (seen_by == "both")
    if seen_by == "both":
        message = output_of(results, "2.2")
        assert "autograd ran while the grader called `backprop(X)`" in message
        assert all(line.split(": ", 1)[1] in message for line in evidence if not line.startswith("runner"))


@pytest.mark.slow(18)
def test_the_zero_policy_takes_points_only_when_both_observations_agree(tmp_path):
    """rubric.AUTOGRAD_IN_BACKPROP = "zero": 2.2 and 2.3 score 0 when the reader and the runner both saw autograd; the
    runner alone (names built at run time) or the reader alone (forward mode) costs nothing and tells the student
    nothing."""
    import nbformat

    copy = grader_copy(tmp_path / "grader-copy")
    rubric = copy / "assignments" / "a0" / "rubric.py"
    text = rubric.read_text()
    assert text.count('AUTOGRAD_IN_BACKPROP = "flag"') == 1
    rubric.write_text(text.replace('AUTOGRAD_IN_BACKPROP = "flag"', 'AUTOGRAD_IN_BACKPROP = "zero"'))
    for style, points in (("dot_backward", 0), ("names_built_at_run_time", 2), ("forward_mode_ad", 2)):
        cells, seen_by = AUTOGRAD[style]
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(source) for source in PRELUDE + cells]
        folder = tmp_path / style
        results = grade(save(nb, folder / "submission"), folder / "results.json", runner=copy / "run_autograder")
        assert scores(results)["2.2"] == points and scores(results)["2.3"] == points, (style, output_of(results, "2.2"))
        assert results["extra_data"]["flag_sources"]["autograd_in_backprop"] == seen_by
        assert _told(results) == (seen_by == "both")
        if seen_by == "both":
            assert "score no points even though they match" in output_of(results, "2.3")


def test_the_runner_sees_autograd_on_a_thread_the_caller_waits_for():
    """The runner's instrument (grader/child/observe.py) on its own: torch's profiler sees autograd's engine on a
    thread started before the observation, and nothing for the same gradients by hand."""
    import queue
    import threading

    import torch

    from grader.child.observe import autograd_runs

    w = torch.randn(3, 4)
    requests, answers = queue.Queue(), queue.Queue()

    def worker():
        x = requests.get()
        with torch.enable_grad():
            p = w.clone().requires_grad_()
            answers.put(torch.autograd.grad((x @ p).sum(), p)[0])

    threading.Thread(target=worker, daemon=True).start()
    x = torch.randn(5, 3)
    with torch.no_grad():
        with autograd_runs(torch) as seen:
            requests.put(x)
            by_thread = answers.get(timeout=30)
        assert seen["nodes"] >= 1 and seen["other_threads"] and "MmBackward0" in seen["names"], seen
        with autograd_runs(torch) as seen:
            by_hand = x.sum(0, keepdim=True).T.expand(3, 4)
        assert seen == {"nodes": 0, "other_threads": False, "names": []}
    assert torch.allclose(by_thread, by_hand)
