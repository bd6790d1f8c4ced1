"""The inputs the grader calls the student's objects on, drawn per probe (grader/rubric.py names the drawers).

They are derived from the submission's content and a secret that student code cannot read (made on first use,
root-only on Gradescope), so regrading the same upload gives the same numbers while no upload can know another's.
"""

import hashlib
import hmac
import os
import secrets

import numpy as np

from .reference import TOY_X

FORWARD_BATCHES = (1, 7, 33)  # several N other than the notebook's 20
BACKPROP_BATCH = 25
SECRET = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".grader-secret")


def seed_for(content_digest: bytes) -> int:
    return int.from_bytes(hmac.new(_secret(), content_digest, hashlib.sha256).digest()[:16], "big")


def _secret() -> bytes:
    try:
        with open(SECRET, "rb") as f:
            return f.read()
    except FileNotFoundError:
        value = secrets.token_bytes(32)
        try:
            fd = os.open(SECRET, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(value)
            return value
        except FileExistsError:  # another grading made it first
            return _secret()
        except OSError:  # a read-only grader folder: inputs still depend on the content
            return b"no secret"


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
    return {"x": TOY_X}


def to_json(value: object) -> object:
    """The same inputs as nested lists, for the child."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value.tolist() if isinstance(value, np.ndarray) else value
