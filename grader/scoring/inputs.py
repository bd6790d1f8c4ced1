"""The seed of the inputs the grader calls the student's objects on (each probe of the assignment draws its own).

They are derived from the submission's content and the course's secret (grader/secret.py: `.grader-secret`, which
student code cannot read; root-only on Gradescope), so regrading the same upload gives the same numbers while no
upload can know another's.
"""

import hashlib
import hmac

import numpy as np

from ..secret import secret


def seed_for(content_digest: bytes) -> int:
    return int.from_bytes(hmac.new(secret(), content_digest, hashlib.sha256).digest()[:16], "big")


def to_json(value: object) -> object:
    """The same inputs as nested lists, for the child."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value.tolist() if isinstance(value, np.ndarray) else value
