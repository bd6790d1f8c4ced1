"""A0 (CSE447/517): a two-layer network by hand, its backward pass, the same as an nn.Module, and its training.

The engine loads `rubric.ASSIGNMENT` (grader/assignment.py). This file imports nothing: the children import only
`probes.py`, never the rubric, the checks or the reference. A0's weighted unittest cases are the checkout's tests/.
"""
