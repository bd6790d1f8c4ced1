"""The parent's NumPy reference agrees with torch (which the parent does not import). torch is imported by the
tests, not at collection: every pytest-xdist worker collects this file, and an import of torch costs a second of CPU."""

import numpy as np
import pytest

from assignments.a0 import inputs, reference
from grader.scoring.inputs import seed_for


@pytest.fixture(name="torch")
def torch_module():
    import torch

    return torch


def generate_data(torch, N):  # the assignment's own function
    X = torch.randn(N, 3)
    Y = (
        torch.stack([(X[:, 0] + X[:, 1]) * (X[:, 2] > 0) + (X[:, 0] - X[:, 1]) * (X[:, 2] < 0), X.norm(dim=1)])
        .t()
        .abs()
        > 1.33
    ).float()
    return X, Y


def test_stored_toy_data_is_the_notebooks(torch):
    torch.manual_seed(0)
    X, Y = generate_data(torch, 20)
    assert np.array_equal(reference.TOY_X, X.double().numpy())
    assert np.array_equal(reference.TOY_Y, Y.double().numpy())


def test_reference_gradients_equal_autograd(torch):
    spec = inputs.backprop(np.random.default_rng(1))
    params = {k: torch.tensor(spec[k], requires_grad=True) for k in ("W1", "B1", "W2", "B2")}
    X, Y = torch.tensor(spec["X"]), torch.tensor(spec["Y"])
    y_hat = torch.sigmoid(torch.relu(X @ params["W1"] + params["B1"]) @ params["W2"] + params["B2"])
    ((y_hat - Y) ** 2).sum().backward()
    expected = reference.gradients(spec["X"], spec["Y"], *(spec[k] for k in ("W1", "B1", "W2", "B2")))
    for name, tensor in params.items():
        assert np.allclose(tensor.grad.numpy(), expected[name], atol=1e-12), name


def test_reference_forward_equals_nn_linear(torch):
    spec = inputs.toymodel(np.random.default_rng(2))
    torch.manual_seed(spec["seed"])
    first, second = torch.nn.Linear(3, 4).double(), torch.nn.Linear(4, 2).double()
    x = torch.tensor(spec["x"])
    with torch.no_grad():
        expected = torch.sigmoid(second(torch.relu(first(x)))).numpy()
    got = reference.linear_layers(
        spec["x"], *(p.detach().numpy() for p in (first.weight, first.bias, second.weight, second.bias))
    )
    assert np.allclose(got, expected, atol=1e-12)


def test_grader_inputs_follow_the_content_and_a_secret():
    assert seed_for(b"one upload") == seed_for(b"one upload")
    assert seed_for(b"one upload") != seed_for(b"another upload")
