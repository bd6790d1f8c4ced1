"""The inputs the grader calls A0's objects on, drawn per probe (rubric.py names the drawers) from a generator the
engine seeds (grader/scoring/inputs.py)."""

import numpy as np

from .reference import TOY_X, TOY_Y

FORWARD_BATCHES = (1, 7, 33)  # several N other than the notebook's 20
BACKPROP_BATCH = 25


def _float32(array):
    return np.asarray(array, dtype=np.float32).astype(np.float64)  # exactly what the child's tensors hold


def _parameters(rng):
    return {
        "W1": _float32(rng.normal(0, 0.6, (3, 4))),
        "B1": _float32(rng.normal(0, 0.3, (1, 4))),
        "W2": _float32(rng.normal(0, 0.8, (4, 2))),
        "B2": _float32(rng.normal(0, 0.3, (1, 2))),
    }


def forward(rng) -> dict:
    return {**_parameters(rng), "inputs": [_float32(rng.normal(0, 1, (n, 3))) for n in FORWARD_BATCHES]}


def backprop(rng) -> dict:
    return {
        **_parameters(rng),
        "X": _float32(rng.normal(0, 1, (BACKPROP_BATCH, 3))),
        "Y": (rng.random((BACKPROP_BATCH, 2)) < 0.5).astype(np.float64),
    }


def toymodel(rng) -> dict:
    return {"seed": int(rng.integers(0, 2**31)), "x": _float32(rng.normal(0, 1, (9, 3)))}


def model(rng) -> dict:
    return {"x": TOY_X, "y": TOY_Y}
