"""A tiny assignment: `scale(x)` doubles x; `w` is trained so that `w * x` fits `3 * x` (rubric.ASSIGNMENT)."""
