"""The reference network and its gradients, in NumPy (float64): the parent does not need torch."""

import json
from pathlib import Path

import numpy as np

_TOY = json.loads((Path(__file__).with_name("toy_data.json")).read_text())
TOY_X = np.array(_TOY["X"], dtype=np.float64)
TOY_Y = np.array(_TOY["Y"], dtype=np.float64)


Array = np.ndarray


def sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # a saturated model: exp overflows to inf and the sigmoid is exactly 0
        return 1.0 / (1.0 + np.exp(-z))


def forward(x: Array, W1: Array, B1: Array, W2: Array, B2: Array) -> np.ndarray:
    """sigmoid(relu(x W1 + B1) W2 + B2), the Exercise 1 network."""
    return sigmoid(np.maximum(x @ W1 + B1, 0.0) @ W2 + B2)


def linear_layers(x: Array, weight1: Array, bias1: Array, weight2: Array, bias2: Array) -> np.ndarray:
    """sigmoid(L2(relu(L1(x)))) with nn.Linear's convention: y = x A^T + b."""
    return forward(x, weight1.T, bias1, weight2.T, bias2)


def gradients(x: Array, Y: Array, W1: Array, B1: Array, W2: Array, B2: Array) -> dict:
    """What autograd gives for L = ((y_hat - Y)**2).sum(), each shaped like its parameter."""
    z1 = x @ W1 + B1
    h = np.maximum(z1, 0.0)
    y_hat = sigmoid(h @ W2 + B2)
    z2_grad = 2.0 * (y_hat - Y) * y_hat * (1.0 - y_hat)
    z1_grad = (z2_grad @ W2.T) * (z1 > 0)
    return {
        "W1": x.T @ z1_grad,
        "B1": z1_grad.sum(0, keepdims=True),
        "W2": h.T @ z2_grad,
        "B2": z2_grad.sum(0, keepdims=True),
    }


def mse(y_hat: np.ndarray, Y: np.ndarray) -> float:
    return float(np.mean((y_hat - Y) ** 2))
