"""The rubric's checks. Each returns what it verified, or raises CheckFailed with what was wrong."""
import numpy as np

from .. import rubric
from . import reference, session
from .feedback import (CheckFailed, as_array, defining_cell_hint, describe_value, error_text, largest_difference, number_text,
                       record, shape_text)

BIAS_SHAPES = {"B1": [(1, 4), (4,)], "B2": [(1, 2), (2,)]}
GRADIENT_SHAPES = {"W1": [(3, 4)], "B1": BIAS_SHAPES["B1"], "W2": [(4, 2)], "B2": BIAS_SHAPES["B2"]}


def _inputs(check):
    return session.current().probes[check]


# -- Exercise 1
def _forward_outputs():
    """([(x, output)] for the batches where forward gave an (N, 2) tensor, [problems with the others])."""
    calls = record("forward")["calls"]
    outputs, problems = [], []
    for x, call in zip(_inputs("forward")["inputs"], calls):
        n = len(x)
        if "error" in call:
            problems.append(f"For `x` of shape ({n}, 3), `forward(x)` raised {error_text(call['error'])}")
            continue
        actual = as_array(call["value"])
        if actual is None or actual.shape != (n, 2):
            problems.append(f"For `x` of shape ({n}, 3), `forward(x)` returned {describe_value(call['value'])}; "
                            f"expected a tensor of shape ({n}, 2).")
        else:
            outputs.append((x, actual))
    return outputs, problems


def forward_shape():
    outputs, problems = _forward_outputs()
    if problems:
        raise CheckFailed("\n\n".join(problems))
    sizes = ", ".join(str(len(x)) for x, _ in outputs)
    return f"`forward(x)` returned a tensor of shape (N, 2) for N = {sizes}."


def forward_values():
    spec = _inputs("forward")
    outputs, problems = _forward_outputs()
    if not outputs:
        raise CheckFailed("No output of `forward(x)` could be compared (see test 1.1):\n\n" + "\n\n".join(problems))
    worst = 0.0
    for x, actual in outputs:
        expected = reference.forward(x, spec["W1"], spec["B1"], spec["W2"], spec["B2"])
        difference = largest_difference(actual, expected)
        if not difference <= rubric.FORWARD_TOLERANCE:
            raise CheckFailed(
                f"With the grader's own `W1`, `B1`, `W2`, `B2` and `x` of shape ({len(x)}, 3), `forward(x)` differs "
                f"from sigmoid(relu(x W1 + B1) W2 + B2) by up to {number_text(difference)} (allowed: "
                f"{rubric.FORWARD_TOLERANCE:g}).\n\nFirst row: yours {np.round(actual[0], 4).tolist()}, expected "
                f"{np.round(expected[0], 4).tolist()}. Check that `forward` uses its argument `x` and the global "
                "weights, relu on the hidden layer and sigmoid on the output.")
        worst = max(worst, difference)
    sizes = ", ".join(str(len(x)) for x, _ in outputs)
    return (f"`forward(x)` matches sigmoid(relu(x W1 + B1) W2 + B2) on the grader's random weights, for N = {sizes} "
            f"(largest difference {worst:.1e}).")


# -- Exercise 2
def _gradients():
    call = record("backprop")["call"]
    if "error" in call:
        raise CheckFailed(f"`backprop(X)` raised {error_text(call['error'])}")
    value = call["value"]
    items = value.get("sequence")
    if items is None or len(items) != 4:
        raise CheckFailed(f"`backprop(X)` returned {describe_value(value)}; expected four gradients "
                          "`(W1_grad, B1_grad, W2_grad, B2_grad)`.")
    grads, problems = {}, []
    for name, item in zip(GRADIENT_SHAPES, items):
        array = as_array(item)
        allowed = GRADIENT_SHAPES[name]
        if array is None or array.shape not in allowed:
            got = describe_value(item)
            problems.append(f"- `{name}_grad` is {got}; expected shape {' or '.join(map(shape_text, allowed))}")
        if array is not None and array.size == np.prod(allowed[0]):
            grads[name] = array   # values are still compared (tests 2.2, 2.3) when only the shape is off
    return grads, problems


def gradient_shapes():
    _, problems = _gradients()
    if problems:
        raise CheckFailed("`backprop(X)` returned gradients of the wrong shape:\n\n" + "\n".join(problems))
    return "`backprop(X)` returned four gradients shaped like `W1`, `B1`, `W2`, `B2`."


def _gradient_distances(names):
    grads, _ = _gradients()
    spec = _inputs("backprop")
    expected = reference.gradients(spec["X"], spec["Y"], spec["W1"], spec["B1"], spec["W2"], spec["B2"])
    lines, failed = [], False
    for name in names:
        if name not in grads:
            raise CheckFailed(f"`{name}_grad` does not have as many values as `{name}`, so it cannot be "
                              "compared (see test 2.1).")
        actual = grads[name].reshape(expected[name].shape)
        distance = float(np.linalg.norm(actual - expected[name])) if np.all(np.isfinite(actual)) else float("inf")
        ok = distance < rubric.GRADIENT_TOLERANCE
        failed |= not ok
        lines.append(f"- `{name}_grad`: distance to autograd's gradient {number_text(distance)} "
                     f"({'ok' if ok else 'too far'}; allowed: below {rubric.GRADIENT_TOLERANCE:g})")
    table = "\n".join(lines)
    if failed:
        raise CheckFailed("With the grader's own weights, `X` and `Y`, your gradients differ from autograd's "
                          f"gradients of `((y_hat - Y)**2).sum()`:\n\n{table}")
    return f"Your gradients match autograd's on the grader's own weights, `X` and `Y`:\n\n{table}"


def output_layer_gradients():
    return _gradient_distances(["W2", "B2"])


def hidden_layer_gradients():
    return _gradient_distances(["W1", "B1"])


# -- Exercise 3
def exercise3_answer():
    current = session.current()
    if current.problem:
        raise CheckFailed(current.problem)
    answer = current.notebook.exercise3_answer
    if answer is None:
        raise CheckFailed("The Exercise 3 question (\"Could loss ever increase...\") was not found in your notebook, "
                          "so no answer was found. Keep the question cell and write your answer after `Answer:`.")
    if not answer:
        raise CheckFailed("Your Exercise 3 answer is empty: write it after `Answer:` in the markdown cell below "
                          "the question.")
    quoted = "\n".join("> " + line for line in answer[:4000].splitlines())
    return f"Your answer, for the course staff to grade by hand:\n\n{quoted}"


# -- Exercises 4 and 5
def _layers(module: dict, what: str, exactly=True):
    """(first layer, second layer): the module's single 3->4 and 4->2 nn.Linear, or CheckFailed.

    With `exactly`, also the rest of the 4.1 structure: no other layer, biases, 26 parameters in all."""
    if not module["is_module"]:
        raise CheckFailed(f"{what} is an instance of `{module['class']}`, not an `nn.Module`.")
    linears = module["linears"]
    found = ", ".join(f"{layer['in']}->{layer['out']}" for layer in linears) or "none"
    first = [layer for layer in linears if (layer["in"], layer["out"]) == (3, 4)]
    second = [layer for layer in linears if (layer["in"], layer["out"]) == (4, 2)]
    if not exactly and len(first) == 1 and len(second) == 1:
        return first[0], second[0]
    if len(linears) != 2 or len(first) != 1 or len(second) != 1:
        raise CheckFailed(f"{what} (an instance of `{module['class']}`) holds {len(linears)} `nn.Linear` layer(s) ({found}); "
                          "expected exactly two: 3->4 and 4->2.")
    if first[0]["bias"] is None or second[0]["bias"] is None:
        raise CheckFailed(f"The `nn.Linear` layers of {what} need their biases (`bias=True`, the default).")
    if module["n_params"] != 26:
        raise CheckFailed(f"{what} has {module['n_params']} parameters in all; expected 26 (the weights and "
                          "biases of the two layers and nothing else).")
    return first[0], second[0]


def _recompute(first, second, x):
    def array(layer, name):
        if layer[name] is None:
            return 0.0
        value = as_array({"tensor": layer[name]})
        expected = (layer["out"], layer["in"]) if name == "weight" else (layer["out"],)
        if value is None or value.shape != expected:
            raise CheckFailed(f"An `nn.Linear({layer['in']}, {layer['out']})` reported a {name} of an unexpected "
                              "shape, so its output cannot be recomputed.")
        return value
    return reference.linear_layers(x, array(first, "weight"), array(first, "bias"),
                                   array(second, "weight"), array(second, "bias"))


def toymodel_structure():
    data = record("toymodel")["object"]
    _layers(data["module"], "`ToyModel()`")
    return "`ToyModel()` holds two `nn.Linear` layers, 3->4 and 4->2, with 26 parameters in all."


def toymodel_output():
    data = record("toymodel")["object"]
    first, second = _layers(data["module"], "`ToyModel()`", exactly=False)
    x = _inputs("toymodel")["x"]
    call = data["call"]
    if "error" in call:
        raise CheckFailed(f"Calling a new `ToyModel()` on `x` of shape ({len(x)}, 3) raised {error_text(call['error'])}")
    actual = as_array(call["value"])
    if actual is None or actual.shape != (len(x), 2):
        raise CheckFailed(f"A new `ToyModel()` called on `x` of shape ({len(x)}, 3) returned "
                          f"{describe_value(call['value'])}; expected shape ({len(x)}, 2).")
    difference = largest_difference(actual, _recompute(first, second, x))
    if not difference <= rubric.FORWARD_TOLERANCE:
        raise CheckFailed(f"A new `ToyModel()`'s output differs from sigmoid(L2(relu(L1(x)))) computed with its own "
                          f"layers by up to {number_text(difference)}. Check the order: first layer, relu, second "
                          "layer, sigmoid.")
    return f"`ToyModel()(x)` equals sigmoid(L2(relu(L1(x)))) (largest difference {difference:.1e})."


def trained_model():
    data = record("model")["object"]
    try:
        first, second = _layers(data["module"], "The notebook's final `model`")
    except CheckFailed as failure:
        raise CheckFailed(str(failure) + defining_cell_hint("model")) from None
    loss = reference.mse(_recompute(first, second, reference.TOY_X), reference.TOY_Y)
    call = data["call"]
    if "error" in call:
        raise CheckFailed(f"Calling your `model(X)` on the toy data raised {error_text(call['error'])}")
    actual = as_array(call["value"])
    if actual is None or actual.shape != reference.TOY_Y.shape:
        raise CheckFailed(f"`model(X)` returned {describe_value(call['value'])}; expected shape (20, 2).")
    expected = _recompute(first, second, reference.TOY_X)
    if not largest_difference(actual, expected) <= 1e-4:
        raise CheckFailed("`model(X)` does not equal sigmoid(L2(relu(L1(X)))) computed with the model's own layers "
                          f"(largest difference {number_text(largest_difference(actual, expected))}).")
    reached = f"The MSE of your trained `model` on the toy data is {loss:.4g} (it must be below {rubric.MSE_THRESHOLD:g})."
    if not loss < rubric.MSE_THRESHOLD:
        raise CheckFailed(reached + _fresh_run_note(loss))
    return reached


def _fresh_run_note(loss: float) -> str:
    saved = session.current().notebook.saved_exercise5_loss
    if saved is None or not saved < rubric.MSE_THRESHOLD:
        return " Try another optimizer setting (e.g. `torch.optim.Adam` with lr=0.01) or more steps."
    return (f"\n\nYour notebook's saved output shows a loss of {saved:.4g}, but the grader's fresh run reached "
            f"{loss:.4g}. Grading re-runs your notebook from a fresh start (like Kernel > Restart & Run All), so "
            "the model starts from different random weights than in your session. Put `torch.manual_seed(0)` "
            "(any seed) right before `model = ToyModel()` in the Exercise 5 cell, then check with "
            "Restart & Run All that the loss is below 0.01.")


def final_mse():
    """For the leaderboard: the recomputed MSE, or None."""
    try:
        data = record("model")["object"]
        first, second = _layers(data["module"], "model")
        return reference.mse(_recompute(first, second, reference.TOY_X), reference.TOY_Y)
    except CheckFailed:
        return None
