"""The tiny assignment's reading of the notebook's text, run by the reader child (never the notebook's code)."""

import re

_BY_HAND = re.compile(r"w\s*=\s*(torch\.tensor\(\s*\[?\s*)?[-+]?\d")


def w_by_hand(text) -> list:
    """The lines that set `w` to a number instead of training it: ["cell 3, line 1: w = 3.0"]."""
    found = []
    for number, source in text.code:
        for index, line in enumerate(source.split("\n")[:1000], 1):
            if _BY_HAND.match(line.strip()) and len(found) < 10:
                found.append(f"cell {number}, line {index}: {line.strip()[:200]}")
    return found
