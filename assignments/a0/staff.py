"""What A0 tells the course staff beyond the scores (parent side): its flag, the answer they grade by hand, and the
kinds of failure the class report counts Exercise 5 under."""

from grader.scoring.submission import Submission

from .checks import autograd_verdict, reading

TRAINING_KINDS = ("crashed", "timed out", "out of memory", "MSE too high", "not the trained model")


def autograd_used(sub: Submission) -> tuple | None:
    """Who saw autograd in `backprop` ("both", "reader" or "runner") and the evidence: the lines the reader found in
    the code it reaches, and what torch saw of autograd's engine during the grader's call (checks.autograd_verdict)."""
    return autograd_verdict(sub)


def answer(sub: Submission) -> str | None:
    """The Exercise 3 answer's text; when the markdown answer is empty, what the code cell after the question
    prints (an answer given by `print()`), for the staff to grade like any other."""
    found = reading(sub, "answer") or {}
    text = found.get("text")
    return (
        text
        if not isinstance(text, str) or text.strip() or not (found.get("printed") or "").strip()
        else found["printed"]
    )


def cause(number: str, output: str) -> str | None:
    """Exercise 5's failures count under their kind (TRAINING_KINDS); the others under their first line."""
    if number != "5.1":
        return None
    if "did not finish" in output or "time limit" in output:
        if "time limit" in output or "Timeout" in output:
            return "timed out"
        return "out of memory" if "out of memory" in output or "MemoryError" in output else "crashed"
    return "MSE too high" if "The MSE of your trained `model`" in output else "not the trained model"
