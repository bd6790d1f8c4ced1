"""A0's words for errors its handout explains (Assignment.hint): the engine's plain-words hints come first
(grader/scoring/feedback.py), these follow for what only A0's handout can explain."""


def hint(error: dict) -> str:
    """A sentence for the student's error (the child's report: its type and message), or ""."""
    if error.get("type") == "RuntimeError" and "does not require grad" in error.get("message", ""):
        return (
            "The grader calls `backprop(X)` under `torch.no_grad()`, as the notebook does: Exercise 2 asks for "
            "the backward pass by hand, without autograd (`.backward()`)."
        )
    return ""
