"""Common errors are explained in plain words, whatever cell raised them."""

import pytest

from grader.scoring.feedback import error_text, plain_words
from grader.scoring.submission import Submission
from grader.settings import Settings

CASES = [
    ({"type": "MemoryError", "message": ""}, "ran out of memory: the grader allows 2048 MB"),
    ({"type": "RuntimeError", "message": "std::bad_alloc"}, "ran out of memory"),
    ({"type": "EOFError", "message": "EOF when reading a line"}, "`input()` cannot be answered during grading"),
    ({"type": "Timeout", "message": "cell 5 ran longer than 300 s"}, "Use a fixed number of steps"),
    ({"type": "URLError", "message": "<urlopen error [Errno -3] Temporary failure>"}, "The grader has no internet"),
    ({"type": "gaierror", "message": "[Errno -2] Name or service not known"}, "The grader has no internet"),
    ({"type": "AttributeError", "message": "'ellipsis' object has no attribute 'relu'"}, "A `...` placeholder is left"),
    ({"type": "SyntaxError", "message": "incomplete input"}, "The cell ends in the middle of a statement"),
]


@pytest.mark.parametrize("error, words", CASES)
def test_a_common_error_gets_its_plain_words(error, words):
    sub = Submission(settings=Settings())
    assert words in plain_words(sub, error)
    assert words in error_text(sub, {**error, "cell": 3, "line": 1})


def test_an_ordinary_error_gets_no_invented_advice():
    assert plain_words(Submission(), {"type": "ValueError", "message": "bad shape"}) == ""
    assert plain_words(Submission(), {"type": "EOFError", "message": "Ran out of input"}) == ""  # pickle.load


def test_an_error_only_the_assignment_explains_gets_the_assignments_hint_only_at_backprops_cell(monkeypatch):
    import dataclasses

    from assignments.a0.rubric import ASSIGNMENT

    error = {
        "type": "RuntimeError",
        "message": "element 0 of tensors does not require grad and does not have a grad_fn",
        "cell": 37,
        "line": 3,
    }
    monkeypatch.setattr(Submission, "notebook", property(lambda sub: {"definitions": {"backprop": [37]}}))
    assert "The grader calls `backprop(X)` under `torch.no_grad()`" in plain_words(
        Submission(assignment=ASSIGNMENT), error
    )
    assert plain_words(Submission(assignment=dataclasses.replace(ASSIGNMENT, hint=None)), error) == ""
    # the same error text raised by another cell (a training loop): the text alone gets no hint
    assert plain_words(Submission(assignment=ASSIGNMENT), {**error, "cell": 53}) == ""
