"""A0's words for the slips its handout explains, in one place: the engine's plain-words hints come first
(grader/scoring/feedback.py), these follow (Assignment.hint), and the checks (checks.py) add the ones about a probe's
record. Each is given only on a fact the grader established for this notebook: what the reader found in its text
(readings.slips, at the cell and line that raised) or a fact of a probe's record; never on an error's text alone."""

from grader.markdown import inline_code
from grader.scoring.submission import Submission

from .slips import HANDOUT_SHAPES


def slips(sub: Submission) -> dict:
    """The reader's findings (readings.slips), checked against their schema; {} when unknown."""
    return sub.assignment.reading(sub.notebook, "slips") or {}


def hint(sub: Submission, error: dict) -> str:
    """A sentence for the student's error (the child's report), chosen by what the raising line does; or ""."""
    found = slips(sub)
    where = error.get("cell"), error.get("line")
    if error.get("type") == "RuntimeError" and [*where] in found.get("no_grad_backward", []):
        return (
            f"Line {where[1]} calls `.backward()` inside `with torch.no_grad():`, where PyTorch records no "
            "gradients, so there is nothing to backpropagate: train outside `torch.no_grad()` (remove it around "
            "the training loop)."
        )
    layer = next((f[2] for f in found.get("layer_called", []) if f[:2] == [*where]), None)
    if error.get("type") == "TypeError" and layer in ("Sigmoid", "ReLU", "Tanh"):
        return (
            f"`nn.{layer}` is a layer class, not a function: `nn.{layer}(t)` tries to create a layer with `t` as "
            f"its setting. Call `torch.{layer.lower()}(t)`, or create the layer once in `__init__` "
            f"(`self.{layer.lower()} = nn.{layer}()`) and call it in `forward` (`self.{layer.lower()}(t)`)."
        )
    backprop_cells = ((sub.notebook or {}).get("definitions") or {}).get("backprop", [])
    if (
        error.get("type") == "RuntimeError"
        and "does not require grad" in error.get("message", "")
        and where[0] in backprop_cells
    ):
        return (
            "The grader calls `backprop(X)` under `torch.no_grad()`, as the notebook does: Exercise 2 asks for "
            "the backward pass by hand, without autograd (`.backward()`)."
        )
    return ""


def transposed(sub: Submission) -> str:
    """The weights' cell turned the handout's shapes (`W1 = torch.randn(4, 3)`): said with a forward or backprop
    error, since the grader calls them with weights in the handout's shapes."""
    found = [f for f in slips(sub).get("transposed", []) if f[0] in HANDOUT_SHAPES]
    if not found:
        return ""
    names = " and ".join(
        f"`{name}` of shape {HANDOUT_SHAPES[name][::-1]} (cell {cell}, line {line})" for name, cell, line in found
    )
    return (
        f"Your notebook makes {names}, the transpose of the handout's: the grader calls `forward` and `backprop` "
        "with weights in the handout's shapes, `W1` (3, 4), `B1` (1, 4), `W2` (4, 2), `B2` (1, 2). Keep the "
        "handout's cell as it is (`W1 = torch.randn(3, 4) * 0.2`, ...) and write `x @ W1`."
    )


def layers_in_forward(sub: Submission, class_name: str) -> str:
    """The class's `forward` creates `nn.Linear` layers (the reader's finding for the probed object's class): why
    the module holds too few (4.1, 5.1); "" when the reader found none."""
    found = [(cell, line) for name, cell, line in slips(sub).get("layers_in_forward", []) if name == class_name]
    if not found:
        return ""
    lines = [str(line) for cell, line in found if cell == found[0][0]]
    return (
        f"the `forward` of {inline_code(class_name)} creates its `nn.Linear` layers (cell {found[0][0]}, "
        f"{'lines' if len(lines) > 1 else 'line'} {', '.join(lines)}), so they are new random layers at every "
        "call, not part of the model, and training cannot change them. Create them once in `__init__` "
        "(`self.linear1 = nn.Linear(3, 4)`) and use them in `forward` (`self.linear1(x)`)."
    )


def extra_layers(what: str, extra: list, difference: str) -> str:
    """4.2 when 4.1 found more than the two layers: that fact, not a guess at the order (the output need not go
    through the extra layer; the grader does not know how `forward` uses it)."""
    return (
        f"{what}'s output differs from sigmoid(L2(relu(L1(x)))) computed with its 3->4 and 4->2 layers alone by up "
        f"to {difference}, and it holds the extra `nn.Linear` layer(s) ({', '.join(extra)}) that test 4.1 names: "
        "the network is exactly 3->4->2."
    )


def mse_of_output(loss: str, tolerance: float, until: str = "once the network is exactly 3->4->2") -> str:
    """5.1 when the trained model ran but is not scored: the MSE of its own output all the same."""
    return (
        f"\n\nYour trained `model` ran: its output on the toy data has an MSE of {loss} (below {tolerance:g} passes "
        f"{until})."
    )


def default_dtype(sub: Submission, facts: dict) -> str | None:
    """The model was trained in float64 (a dtype fact of the model probe): said before any advice about the data,
    since under float64 `torch.manual_seed(0)` then `generate_data(20)` draws other numbers than the toy data's."""
    if facts.get("x_dtype") != "torch.float64" or (facts.get("inputs") or {}).get("X") is not False:
        return None
    found = slips(sub).get("default_dtype", [])
    where = f" (cell {found[0][0]}, line {found[0][1]}: `torch.set_default_dtype`)" if found else ""
    return (
        f"Your `X` is a float64 tensor{where}, while the handout's toy data is float32: in float64, "
        "`torch.manual_seed(0)` then `X, Y = generate_data(20)` draws other numbers, so your model was trained on "
        "other data than the toy data the grader checks it on. Keep PyTorch's default dtype, float32 (remove "
        "`torch.set_default_dtype(torch.float64)`)."
    )


def gradient_factor(factor: float, rows: int) -> str:
    """Words for a gradient that is a constant times the right one. A mean is said by what it divides by, not by the
    grader's batch size, which is not the student's."""
    if abs(factor * rows - 1) < 1e-3:
        return (
            "is the right gradient divided by the number of rows of `X` (a mean over the rows where the loss "
            "`((y_hat - Y)**2).sum()` sums them?)."
        )
    if abs(factor * 2 * rows - 1) < 1e-3:
        return (
            "is the right gradient divided by the number of values of `Y` (a mean, as `mse_loss` takes by default, "
            "where the loss `((y_hat - Y)**2).sum()` is a sum?)."
        )
    words = {0.5: " (is the factor 2 of the squared error missing?)", -1.0: " (is the sign flipped?)", 2.0: ""}
    for value, text in words.items():
        if abs(factor - value) < 1e-3 * abs(value):
            return f"is exactly {factor:.4g} times the right gradient{text}."
    return f"is exactly {factor:.4g} times the right gradient."
