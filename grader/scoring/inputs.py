"""The inputs the grader calls the student's objects on: fresh random values for every submission."""
import secrets

import numpy as np

from .reference import TOY_X

FORWARD_BATCHES = (1, 7, 33)    # several N other than the notebook's 20
BACKPROP_BATCH = 25


def _float32(array):
    return np.asarray(array, dtype=np.float32).astype(np.float64)   # exactly what the child's tensors hold


def choose(seed: int | None = None) -> dict:
    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)

    def parameters():
        return {"W1": _float32(rng.normal(0, 0.6, (3, 4))), "B1": _float32(rng.normal(0, 0.3, (1, 4))),
                "W2": _float32(rng.normal(0, 0.8, (4, 2))), "B2": _float32(rng.normal(0, 0.3, (1, 2)))}

    return {
        "forward": {**parameters(), "inputs": [_float32(rng.normal(0, 1, (n, 3))) for n in FORWARD_BATCHES]},
        "backprop": {**parameters(), "X": _float32(rng.normal(0, 1, (BACKPROP_BATCH, 3))),
                     "Y": (rng.random((BACKPROP_BATCH, 2)) < 0.5).astype(np.float64)},
        "toymodel": {"seed": int(rng.integers(0, 2**31)), "x": _float32(rng.normal(0, 1, (9, 3)))},
        "model": {"x": TOY_X},
    }


def to_json(probes: dict) -> dict:
    """The same inputs as nested lists, for the child."""
    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value.tolist() if isinstance(value, np.ndarray) else value
    return plain(probes)
