"""The seed of the inputs the grader calls the student's objects on (each probe of the assignment draws its own).

They are derived from the submission's content and a secret that student code cannot read (made on first use,
root-only on Gradescope), so regrading the same upload gives the same numbers while no upload can know another's.
"""

import hashlib
import hmac
import os
import secrets

import numpy as np

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


def to_json(value: object) -> object:
    """The same inputs as nested lists, for the child."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value.tolist() if isinstance(value, np.ndarray) else value
