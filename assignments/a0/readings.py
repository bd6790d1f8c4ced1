"""A0's readings of the notebook's text (grader/assignment.py `Reading`): run by the reader child, which never runs
the notebook's code, before it is confined; each returns small plain data, checked in the parent against SCHEMAS."""

from grader.notebook.scan import autograd_in, seeds_before

from .answer import exercise3_answer, saved_exercise5_loss

_TEXT_OR_NONE = {"anyOf": [{"type": "string", "maxLength": 20_000}, {"type": "null"}]}
_COUNT = {"type": "integer", "minimum": 0, "maximum": 10_000}
SCHEMAS = {
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


def seeded(text) -> bool:
    cells = text.definitions.get("model", [])
    return bool(cells and seeds_before(dict(text.code)[cells[-1]], "model"))


def autograd(text) -> list:
    """The lines by which the `backprop` that runs computes gradients with autograd ("cell 5, line 3: ..."), or []."""
    return [line[:500] for line in autograd_in(text.parsed, "backprop")][:20]
