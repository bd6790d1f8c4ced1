"""A0's readings of the notebook's text (grader/assignment.py `Reading`): run by the reader child, which never runs
the notebook's code, before it is confined; each returns small plain data, checked in the parent against SCHEMAS."""

from grader.notebook.scan import autograd_in

from . import slips as _slips
from .analyses import loop_arguments, read_then_bound, seeds_before, writes_through_data
from .answer import exercise3_answer, saved_exercise5_loss

_TEXT_OR_NONE = {"anyOf": [{"type": "string", "maxLength": 20_000}, {"type": "null"}]}
_NAME = {"type": "string", "maxLength": 100}
_NAME_OR_NONE = {"anyOf": [_NAME, {"type": "null"}]}
_COUNT = {"type": "integer", "minimum": 0, "maximum": 10_000}


def _FOUND(items: list) -> dict:  # noqa: N802  -- a schema, written like the constants around it
    row = {"type": "array", "prefixItems": items, "items": False, "minItems": len(items)}
    return {"type": "array", "maxItems": _slips.MAX_FOUND, "items": row}


SCHEMAS: dict[str, dict] = {
    "answer": {
        "type": "object",
        "additionalProperties": False,
        "required": ["text", "images", "image_links"],
        "properties": {
            "text": _TEXT_OR_NONE,  # None: the question was not found; "": nothing was added
            "images": _COUNT,  # images inside the notebook (sent to the staff as answer-<n> files)
            "image_links": _COUNT,  # images that point elsewhere, or could not be used
            "printed": _TEXT_OR_NONE,  # an answer print()ed in a code cell instead of written in the markdown cell
        },
    },
    "saved_loss": {"type": "number"},  # the loss the student's own run printed in Exercise 5, if saved
    "seeded": {"type": "boolean"},  # the training cell seeds torch before creating `model`
    "autograd": {"type": "array", "maxItems": 20, "items": {"type": "string", "maxLength": 500}},
    "training": {  # what the last cell binding `model` does with it
        "type": "object",
        "additionalProperties": False,
        "required": ["input", "target", "later", "data_writes"],
        "properties": {
            "input": _NAME_OR_NONE,  # the one variable its loops pass to `model(...)` (scan.loop_arguments)
            "target": _NAME_OR_NONE,  # the one variable its loops pass to the loss, second
            "later": {"type": "array", "maxItems": 50, "items": _NAME},  # names it reads that a later cell binds
            "data_writes": {"type": "boolean"},  # some cell changes a tensor through `.data` (no version counted)
        },
    },
    "slips": {  # common slips in the text (slips.py), each at its cell and line, for hints.py
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "no_grad_backward": _FOUND([_COUNT, _COUNT]),  # `.backward()` inside `with torch.no_grad():`
            "layer_called": _FOUND([_COUNT, _COUNT, _NAME]),  # `nn.Sigmoid(t)`: a layer class called on a tensor
            "layers_in_forward": _FOUND([_NAME, _COUNT, _COUNT]),  # a class's `forward` creates `nn.Linear`
            "default_dtype": _FOUND([_COUNT, _COUNT]),  # `torch.set_default_dtype(...)`
            "transposed": _FOUND([_NAME, _COUNT, _COUNT]),  # `W1 = torch.randn(4, 3)`: the handout's shape turned
        },
    },
}


def answer(text) -> dict:
    """The Exercise 3 answer; its embedded images go to the staff (text.images)."""
    found = exercise3_answer(text.cells)
    text.images.extend(found.images)
    return {
        "text": None if found.text is None else found.text[:20000],
        "images": len(found.images),
        "image_links": found.image_links + found.images_skipped,
        "printed": None if found.printed is None else found.printed[:4000],
    }


def saved_loss(text) -> float | None:
    value = saved_exercise5_loss(text.cells)
    return value if isinstance(value, float) and abs(value) < 1e300 else None


def _model_cell(text) -> tuple[int, str] | None:
    """The last code cell that binds `model` (the one whose model is checked), as (number, source)."""
    cells = text.definitions.get("model", [])
    return (cells[-1], dict(text.code)[cells[-1]]) if cells else None


def seeded(text) -> bool:
    found = _model_cell(text)
    return bool(found and seeds_before(found[1], "model"))


def autograd(text) -> list:
    """The lines by which the `backprop` that runs computes gradients with autograd ("cell 5, line 3: ..."), or []."""
    return [line[:500] for line in autograd_in(text.parsed, "backprop")][:20]


def training(text) -> dict | None:
    """What the last cell binding `model` passes to it and to the loss in its loops, or None without such a cell."""
    found = _model_cell(text)
    if found is None:
        return None
    cell, source = found
    later = [code for number, code in text.code if number > cell]
    passed = {
        role: name if name and len(name) <= 100 else None
        for role, name in loop_arguments(source, "model", method="forward").items()
    }
    return {
        **passed,
        "later": [name for name in read_then_bound(source, later) if len(name) <= 100][:50],
        "data_writes": writes_through_data([code for _, code in text.code]),
    }


def slips(text) -> dict:
    return _slips.find(text.code)
