"""The rubric's checks, in the parent. Each takes the graded Submission and its rubric Line, and returns what it
verified or raises CheckFailed with what was wrong. rubric.py says which check scores which line."""

import numpy as np

from grader.kit import (
    CheckFailed,
    Submission,
    as_array,
    code_block,
    describe_value,
    error_text,
    inline_code,
    largest_difference,
    number_text,
    record,
    same_cause_as,
    shape_text,
)
from grader.markdown import quoted
from grader.scoring.feedback import defining_cell_hint, ending

from . import hints, reference

BIAS_SHAPES: dict[str, list[tuple[int, ...]]] = {"B1": [(1, 4), (4,)], "B2": [(1, 2), (2,)]}
GRADIENT_SHAPES: dict[str, list[tuple[int, ...]]] = {
    "W1": [(3, 4)],
    "B1": BIAS_SHAPES["B1"],
    "W2": [(4, 2)],
    "B2": BIAS_SHAPES["B2"],
}


# -- Exercise 1
def _forward_outputs(sub: Submission):
    """([(x, output)] for the batches where forward gave an (N, 2) tensor, [problems with the others])."""
    calls = record(sub, "forward")["calls"]
    outputs, problems, errors = [], [], dict[tuple, list]()
    for x, call in zip(sub.inputs["forward"]["inputs"], calls):
        n = len(x)
        if "error" in call:
            error = call["error"]  # the same error once, for every N (its message may name N)
            errors.setdefault((error.get("type"), error.get("cell"), error.get("line")), []).append((n, error))
            continue
        actual = as_array(call["value"])
        if actual is None or actual.shape != (n, 2):
            hint = ""
            if actual is not None and actual.shape == (20, 2):
                hint = " It has 20 rows whatever the input: does `forward` use the global `X` instead of its argument?"
            problems.append(
                f"For `x` of shape ({n}, 3), `forward(x)` returned {describe_value(call['value'])}; "
                f"expected a tensor of shape ({n}, 2).{hint}"
            )
        else:
            outputs.append((x, actual))
    for raised in reversed(errors.values()):
        sizes = ", ".join(str(n) for n, _ in raised)
        shown = f" at the same line each time; for N = {raised[0][0]}:" if len(raised) > 1 else ""
        text = error_text(sub, raised[0][1])
        problems.insert(0, f"For `x` of shape (N, 3) with N = {sizes}, `forward(x)` raised{shown} {text}")
    if errors and hints.transposed(sub):
        problems.insert(len(errors), hints.transposed(sub))
    return outputs, problems


def forward_shape(sub: Submission, line) -> str:
    outputs, problems = _forward_outputs(sub)
    if problems:
        raise CheckFailed("\n\n".join(problems))
    return f"`forward(x)` returned a tensor of shape (N, 2) for N = {', '.join(str(len(x)) for x, _ in outputs)}."


def forward_values(sub: Submission, line) -> str:
    inputs = sub.inputs["forward"]
    with same_cause_as("1.1"):
        outputs, _ = _forward_outputs(sub)
    if not outputs:
        raise CheckFailed("No output of `forward(x)` could be compared: same cause as test 1.1.")
    worst = 0.0
    for x, actual in outputs:
        expected = reference.forward(x, inputs["W1"], inputs["B1"], inputs["W2"], inputs["B2"])
        difference = largest_difference(actual, expected)
        if not difference <= line.tolerance:
            outside = any(np.any(a <= 0) or np.any(a >= 1) for _, a in outputs)  # every batch: one row may not show it
            hint = (
                " Its values are outside (0, 1): is the sigmoid on the output missing?"
                if outside
                else " Check that `forward` uses its argument `x` and the global weights, relu on the hidden layer "
                "and sigmoid on the output."
            )
            raise CheckFailed(
                f"With the grader's own `W1`, `B1`, `W2`, `B2` and `x` of shape ({len(x)}, 3), `forward(x)` differs "
                f"from sigmoid(relu(x W1 + B1) W2 + B2) by up to {number_text(difference)} (allowed: "
                f"{line.tolerance:g}).\n\nFirst row: yours {np.round(actual[0], 4).tolist()}, expected "
                f"{np.round(expected[0], 4).tolist()}.{hint}"
            )
        worst = max(worst, difference)
    sizes = ", ".join(str(len(x)) for x, _ in outputs)
    return (
        f"`forward(x)` matches sigmoid(relu(x W1 + B1) W2 + B2) on the grader's random weights, for N = {sizes} "
        f"(largest difference {worst:.1e})."
    )


# -- Exercise 2
def _backprop_value(sub: Submission) -> list:
    call = record(sub, "backprop")["call"]
    if "error" in call:
        transposed = f"\n\n{hints.transposed(sub)}" if hints.transposed(sub) else ""
        raise CheckFailed(f"`backprop(X)` raised {error_text(sub, call['error'])}{transposed}")
    items = call["value"].get("sequence")
    if items is None or len(items) != 4:
        raise CheckFailed(
            f"`backprop(X)` returned {describe_value(call['value'])}; expected four gradients "
            "`(W1_grad, B1_grad, W2_grad, B2_grad)`."
        )
    return [as_array(item) for item in items]


def _expected_gradients(sub: Submission) -> dict:
    i = sub.inputs["backprop"]
    return reference.gradients(i["X"], i["Y"], i["W1"], i["B1"], i["W2"], i["B2"])


def _permutation(sub: Submission, arrays) -> list | None:
    """The names in the order the student returned them, if the four are the right gradients in another order."""
    expected = _expected_gradients(sub)
    order = []
    for array in arrays:
        match = [
            name
            for name, grad in expected.items()
            if array is not None
            and array.size == grad.size
            and name not in order
            and np.linalg.norm(array.reshape(grad.shape) - grad) < 1e-4
        ]
        if not match:
            return None
        order.append(match[0])
    return order if order != list(GRADIENT_SHAPES) else None


def _ordered_gradients(sub: Submission):
    """{name: array} by position, or by matching values when the student returned them in another order."""
    arrays = _backprop_value(sub)
    order = _permutation(sub, arrays)
    names = order or list(GRADIENT_SHAPES)
    return {name: array for name, array in zip(names, arrays)}, order


def gradient_shapes(sub: Submission, line) -> str:
    arrays = _backprop_value(sub)
    order = _permutation(sub, arrays)
    if order:
        raise CheckFailed(
            f"`backprop(X)` returned the right gradients in another order ({', '.join(order)}); "
            "return them as `W1_grad, B1_grad, W2_grad, B2_grad`. Tests 2.2 and 2.3 compare them by "
            "their values."
        )
    problems = []
    for (name, allowed), array in zip(GRADIENT_SHAPES.items(), arrays):
        if array is None or array.shape not in allowed:
            got = "not a tensor" if array is None else f"of shape {shape_text(array.shape)}"
            problems.append(f"- `{name}_grad` is {got}; expected shape {' or '.join(map(shape_text, allowed))}")
    if problems:
        raise CheckFailed("`backprop(X)` returned gradients of the wrong shape:\n\n" + "\n".join(problems))
    return "`backprop(X)` returned four gradients shaped like `W1`, `B1`, `W2`, `B2`."


def _gradient_distances(sub: Submission, line, names) -> str:
    with same_cause_as("2.1"):
        grads, _ = _ordered_gradients(sub)
    expected = _expected_gradients(sub)
    verdict = autograd_verdict(sub)
    proven = verdict is not None and verdict[0] == BOTH  # the student reads only what both observations agree on
    lines, failed = [], False
    for name in names:
        array = grads.get(name)
        if array is None or array.size != expected[name].size:
            raise CheckFailed(
                f"`{name}_grad` does not have as many values as `{name}`, so it cannot be compared (see test 2.1)."
            )
        actual = array.reshape(expected[name].shape)
        distance = float(np.linalg.norm(actual - expected[name])) if np.all(np.isfinite(actual)) else float("inf")
        ok = distance < line.tolerance
        failed |= not ok
        lines.append(
            f"- `{name}_grad`: distance to autograd's gradient {number_text(distance)} "
            f"({'ok' if ok else 'too far'}; allowed: below {line.tolerance:g})"
        )
    table = "\n".join(lines)
    if failed:
        rows = len(sub.inputs["backprop"]["X"])
        relations = [_gradient_relation(name, grads.get(name), expected[name], rows) for name in names]
        named = "".join(f"{text} " for text in relations if text)
        inherited = ""
        if names == ["W1", "B1"] and not any(_close(grads.get(n), expected[n], line.tolerance) for n in ("W2", "B2")):
            inherited = (
                "Fix test 2.2 first: the hidden layer's gradients are computed from the output layer's "
                "(`z2_grad`, whose row sums are `B2_grad`), which are wrong too. "
            )
        raise CheckFailed(
            f"{inherited}{named}With the grader's own weights, `X` and `Y`, your gradients differ from autograd's "
            f"gradients of `((y_hat - Y)**2).sum()`:\n\n{table}"
        )
    if not proven:
        return f"Your gradients match autograd's on the grader's own weights, `X` and `Y`:\n\n{table}"
    quoted = code_block("\n".join(autograd_evidence(sub)))
    if sub.assignment.options.get("autograd_in_backprop") == "zero":
        raise CheckFailed(
            "Your `backprop` uses autograd: these lines of your notebook compute gradients with it, and autograd ran "
            "while the grader called `backprop(X)`. Exercise 2 asks for the backward pass by hand, so the gradients "
            f"score no points even though they match:\n\n{quoted}\n\n{table}"
        )
    return (
        f"Your gradients match autograd's on the grader's own weights, `X` and `Y`:\n\n{table}\n\n"
        "**Your `backprop` uses autograd**, which Exercise 2 asks you not to use: these lines of your notebook "
        "compute gradients with it, and autograd ran while the grader called `backprop(X)`. It will be reviewed by "
        f"the course staff.\n\n{quoted}"
    )


BOTH, READER, RUNNER = "both", "reader", "runner"  # who saw autograd in `backprop` (extra_data.flag_sources)


def autograd_evidence(sub: Submission) -> list:
    """The reader's evidence that the `backprop` that runs uses autograd (lines of the notebook), or []."""
    return list(reading(sub, "autograd") or [])


def autograd_observed(sub: Submission) -> dict | None:
    """What torch saw of autograd's engine while the grader called `backprop` (records.Autograd), if it ran at all:
    the runner's account, from the process that runs the notebook."""
    data = sub.report.records.get("backprop") or {}
    seen = (data.get("call") or {}).get("autograd") or {}
    return seen if seen.get("nodes") else None


def autograd_verdict(sub: Submission) -> tuple[str, list] | None:
    """(who saw it: BOTH, READER or RUNNER, evidence lines) when the reader found autograd in the code `backprop`
    reaches or the runner saw autograd's engine run during the grader's call of it; None when neither did."""
    read, seen = autograd_evidence(sub), autograd_observed(sub)
    if not (read or seen):
        return None
    observed = []
    if seen:
        where = " (some on a thread other than the grader's call)" if seen.get("other_threads") else ""
        names = ", ".join(seen.get("names") or [])
        observed = [
            f"runner: autograd's engine evaluated {seen['nodes']} backward function(s) while the grader called "
            f"backprop(X){where}: {names}"
        ]
    return (BOTH if read and seen else READER if read else RUNNER), read + observed


def reading(sub: Submission, name: str):
    """What the reader found in the notebook's text (readings.py), once the parent has checked it; else None."""
    return sub.assignment.reading(sub.notebook, name)


def _close(array, expected, tolerance) -> bool:
    if array is None or array.size != expected.size or not np.all(np.isfinite(array)):
        return False
    return float(np.linalg.norm(array.reshape(expected.shape) - expected)) < tolerance


def _gradient_relation(name: str, array, expected, rows: int) -> str:
    """A wrong gradient that is a known slip of the right one: transposed, or a constant multiple (a mean for a sum,
    a missing factor 2, a sign)."""
    if array is None or array.size != expected.size or not np.all(np.isfinite(array)) or not np.any(expected):
        return ""
    if expected.ndim == 2 and array.shape == expected.T.shape and array.shape != expected.shape:
        if np.allclose(array, expected.T, atol=1e-4):
            return f"`{name}_grad` is the transpose of the right gradient: it must have the shape of `{name}`."
    flat, right = array.reshape(-1), expected.reshape(-1)
    factor = float(flat @ right / (right @ right))
    if abs(factor - 1) > 1e-3 and abs(factor) > 1e-9 and np.allclose(flat, factor * right, rtol=1e-3, atol=1e-6):
        return f"`{name}_grad` {hints.gradient_factor(factor, rows)}"
    return ""


def output_layer_gradients(sub: Submission, line) -> str:
    return _gradient_distances(sub, line, ["W2", "B2"])


def hidden_layer_gradients(sub: Submission, line) -> str:
    return _gradient_distances(sub, line, ["W1", "B1"])


# -- Exercise 3
def exercise3_answer(sub: Submission, line) -> str:
    if sub.problem:
        raise CheckFailed(sub.problem)
    if sub.notebook is None:
        raise CheckFailed(f"{ending(sub)} Your notebook could not be read, so no answer was found.")
    answer = reading(sub, "answer") or {"text": None, "images": 0, "image_links": 0}
    if answer["text"] is None:
        raise CheckFailed(
            "The Exercise 3 question (\"Could loss ever increase...\") was not found in your notebook, "
            "so no answer was found. Keep the question cell and write your answer below it."
        )
    images = answer["images"] + answer["image_links"]
    pictures = (
        f"\n\n(Your answer also has {images} image(s): the course staff see them in the notebook.)" if images else ""
    )
    if not answer["text"].strip():
        if images:
            return f"Your answer is {images} image(s), for the course staff to grade by hand in the notebook."
        printed = answer.get("printed")
        if printed is not None and printed.strip():
            return (
                "Your answer, printed by the code cell below the question (the markdown answer cell is empty), for "
                f"the course staff to grade by hand:\n\n{quoted(printed[:4000])}\n\nNext time, write it after "
                "`Answer:` in the markdown cell."
            )
        raise CheckFailed(
            "Your Exercise 3 answer is empty: write it after `Answer:` in the markdown cell below the question."
        )
    return f"Your answer, for the course staff to grade by hand:\n\n{quoted(answer['text'][:4000])}{pictures}"


# -- Exercises 4 and 5
def _layers(module: dict, what: str, exactly=True, sub: Submission | None = None):
    """(first layer, second layer): the module's single 3->4 and 4->2 nn.Linear, or CheckFailed.

    With `exactly`, also the rest of the 4.1 structure: no other layer, biases, 26 parameters in all. With `sub`,
    a missing layer is explained when the reader found why (hints.layers_in_forward)."""
    if not module["is_module"]:
        raise CheckFailed(f"{what} is an instance of {inline_code(module['class_name'])}, not an `nn.Module`.")
    linears = module["linears"]
    sizes = [(layer["in_features"], layer["out_features"]) for layer in linears]
    found = ", ".join(f"{i}->{o}" for i, o in sizes) or "none"
    first = [layer for layer, size in zip(linears, sizes) if size == (3, 4)]
    second = [layer for layer, size in zip(linears, sizes) if size == (4, 2)]
    if not exactly and len(first) == 1 and len(second) == 1:
        return first[0], second[0]
    why = hints.layers_in_forward(sub, module["class_name"]) if sub and not (first and second) else ""
    if why:
        raise CheckFailed(f"{what} holds {len(linears)} `nn.Linear` layer(s) ({found}): {why}")
    if len(linears) != 2 or len(first) != 1 or len(second) != 1:
        extra = (
            " The extra layer(s) must go: the network is exactly 3->4->2."
            if len(linears) > 2 and first and second
            else ""
        )
        raise CheckFailed(
            f"{what} holds {len(linears)} `nn.Linear` layer(s) ({found}); expected exactly two: 3->4 and 4->2.{extra}"
        )
    if first[0]["bias"] is None or second[0]["bias"] is None:
        raise CheckFailed(f"The `nn.Linear` layers of {what} need their biases (`bias=True`, the default).")
    if module["n_params"] != 26:
        raise CheckFailed(
            f"{what} has {module['n_params']} parameters in all; expected 26 (the weights and "
            "biases of the two layers and nothing else)."
        )
    return first[0], second[0]


def _recompute(first, second, x):
    def array(layer, name):
        if layer[name] is None:
            return 0.0
        value = as_array({"tensor": layer[name]})
        expected = (layer["out_features"], layer["in_features"]) if name == "weight" else (layer["out_features"],)
        if value is None or value.shape != expected:
            raise CheckFailed(
                f"An `nn.Linear({layer['in_features']}, {layer['out_features']})` reported a {name} "
                "of an unexpected shape, so its output cannot be recomputed."
            )
        return value

    return reference.linear_layers(
        x, array(first, "weight"), array(first, "bias"), array(second, "weight"), array(second, "bias")
    )


def toymodel_structure(sub: Submission, line) -> str:
    _layers(record(sub, "toymodel")["object"]["module"], "`ToyModel()`", sub=sub)
    return "`ToyModel()` holds two `nn.Linear` layers, 3->4 and 4->2, with 26 parameters in all."


def toymodel_output(sub: Submission, line) -> str:
    with same_cause_as("4.1"):
        data = record(sub, "toymodel")["object"]
        first, second = _layers(data["module"], "`ToyModel()`", exactly=False, sub=sub)
    x = sub.inputs["toymodel"]["x"]
    call = data["call"]
    if "error" in call:
        raise CheckFailed(
            f"Calling a new `ToyModel()` on `x` of shape ({len(x)}, 3) raised {error_text(sub, call['error'])}"
        )
    actual = as_array(call["value"])
    if actual is None or actual.shape != (len(x), 2):
        raise CheckFailed(
            f"A new `ToyModel()` called on `x` of shape ({len(x)}, 3) returned "
            f"{describe_value(call['value'])}; expected shape ({len(x)}, 2)."
        )
    difference = largest_difference(actual, _recompute(first, second, x))
    extra = [f"{a['in_features']}->{a['out_features']}" for a in data["module"]["linears"] if a not in (first, second)]
    if not difference <= line.tolerance and extra:  # 4.1 names the extra layer: no other cause is guessed
        raise CheckFailed(hints.extra_layers("A new `ToyModel()`", extra, number_text(difference)))
    if not difference <= line.tolerance:
        raise CheckFailed(
            f"A new `ToyModel()`'s output differs from sigmoid(L2(relu(L1(x)))) computed with its own "
            f"layers by up to {number_text(difference)}. Check the order: first layer, relu, second "
            "layer, sigmoid."
        )
    return f"`ToyModel()(x)` equals sigmoid(L2(relu(L1(x)))) (largest difference {difference:.1e})."


def final_mse(sub: Submission) -> float | None:
    """The MSE recomputed from the trained model's own layers, or None (also the leaderboard's value)."""
    try:
        first, second = _layers(record(sub, "model")["object"]["module"], "model")
        loss = reference.mse(_recompute(first, second, reference.TOY_X), reference.TOY_Y)
    except CheckFailed:
        return None
    return loss if np.isfinite(loss) else None


def trained_model(sub: Submission, line) -> str:
    training = _training_cell_failure(sub)
    data = record(sub, "model")["object"]
    try:
        first, second = _layers(data["module"], "The notebook's final `model`", sub=sub)
    except CheckFailed as failure:
        words = str(failure)
        ran = as_array(data["call"].get("value") or {})
        if ran is not None and ran.shape == reference.TOY_Y.shape:  # its own output, for the words only
            words += hints.mse_of_output(number_text(reference.mse(ran, reference.TOY_Y)), line.tolerance)
        if _handout_example(data["module"]):  # not the student's network: its layers would only mislead
            words = (
                "Your final `model` is still the handout's example network (`model = ExampleNetwork()` in Part 3): "
                + ("that cell stopped before its own `model = ...`." if training else "no later cell replaced it.")
            )
        raise CheckFailed((training or "") + words + ("" if training else defining_cell_hint(sub, "model"))) from None
    expected = _recompute(first, second, reference.TOY_X)
    loss = reference.mse(expected, reference.TOY_Y)
    call = data["call"]
    if "error" in call:
        raise CheckFailed(f"Calling your `model(X)` on the toy data raised {error_text(sub, call['error'])}")
    actual = as_array(call["value"])
    if actual is None or actual.shape != reference.TOY_Y.shape:
        raise CheckFailed(f"`model(X)` returned {describe_value(call['value'])}; expected shape (20, 2).")
    if not largest_difference(actual, expected) <= 1e-4:
        raise CheckFailed(
            "`model(X)` does not equal sigmoid(L2(relu(L1(X)))) computed with the model's own layers "
            f"(largest difference {number_text(largest_difference(actual, expected))})."
            + hints.mse_of_output(
                number_text(reference.mse(actual, reference.TOY_Y)), line.tolerance, "once it computes that"
            )
        )
    reached = (
        f"The MSE of your trained `model` on the toy data is {number_text(loss)} (it must be below {line.tolerance:g})."
    )
    if training:
        raise CheckFailed(training + reached)
    if not loss < line.tolerance:
        fact = _training_fact(sub, data.get("facts") or {})
        if fact:
            raise CheckFailed(f"{fact}\n\n{reached}")
        raise CheckFailed(_advice(sub, reached, loss, line.tolerance))
    return reached


def _handout_example(module: dict) -> bool:
    sizes = [(layer["in_features"], layer["out_features"]) for layer in module.get("linears", [])]
    return module.get("class_name") == "ExampleNetwork" and sizes == [(784, 128), (128, 64), (64, 10)]


def _training_fact(sub: Submission, facts: dict) -> str | None:
    """What the notebook's own run shows happened to `model` and its training input, said before any advice; None
    when the probe's facts (the run) and the reader's (the code) cannot establish it."""
    training = reading(sub, "training")
    untracked = not training or training["data_writes"]  # a change through `.data` leaves no version behind
    if facts.get("updated") is False and (facts.get("grads") is False or not untracked):
        return (
            "The parameters of your final `model` never changed after it was created: it was not trained. Check "
            "that the training loop runs (a training function must be called), that it calls `loss.backward()` "
            "and `optimizer.step()` with an optimizer made from this `model.parameters()`, and that `model` is not "
            "created again after the loop."
        )
    dtype = hints.default_dtype(sub, facts)  # a fact about the data's dtype comes before any advice about the data
    if dtype:
        return dtype
    for role, kind in (("input", "inputs"), ("target", "targets")):
        name = training and training[role]
        if name and name not in training["later"] and (facts.get(kind) or {}).get(name) is False:
            return _other_data(role, name)
    return None  # what the loop trained on is not known, may have changed since, or is the toy data


_TOY = "(`torch.manual_seed(0)` then `X, Y = generate_data(20)`)"
_KEEP = "Do not generate or change `X` and `Y` after the handout's `X, Y = generate_data(20)`."


def _other_data(role: str, name: str) -> str:
    """The loop's input (`model(x)`) or loss target (`mse_loss(y_hat, y)`) is a variable that is not the toy data."""
    if name in ("X", "Y"):
        used = "calls `model(X)`" if role == "input" else "compares the model's output with `Y` in its loss"
        return (
            f"Your final `{name}` is not the toy data of the handout {_TOY}, and your training loop {used}: the "
            f"model was trained on other data, and the grader checks it on the toy data. {_KEEP}"
        )
    if role == "input":
        return (
            f"Your training loop calls {inline_code(f'model({name})')}: {inline_code(name)} is not the toy data, so "
            "the model was trained on other inputs than the ones the grader checks it on (`X`, from "
            "`torch.manual_seed(0)` then `X, Y = generate_data(20)`). Call `model(X)` in the loop to train on `X`."
        )
    return (
        f"Your training loop's loss compares the model's output with {inline_code(name)}, which is not the toy data's "
        "`Y`: the model was trained toward other targets than the ones the grader checks it on. Compare with `Y` in "
        "the loss (for example `mse_loss(y_hat, Y)`) to train toward `Y`."
    )


def _training_cell_failure(sub: Submission) -> str | None:
    """When the cell that trains `model` failed or was stopped, that is the cause: said first, without advice."""
    cells = (sub.notebook or {}).get("definitions", {}).get("model", [])
    if not cells:
        return None
    end = sub.report.cells.get(cells[-1])
    if not end or end["status"] == "ok" or not end.get("error"):
        return None
    left = "the cells before it left it" if cells[-1] in sub.skipped else "that cell left it"
    return (
        f"Cell {cells[-1]}, which trains `model` (Exercise 5), did not finish: it raised "
        f"{error_text(sub, end['error'])}\n\nThe model was checked as {left}. "
    )


def _advice(sub: Submission, reached: str, loss: float, threshold: float) -> str:
    """The fact about seeding first when the cell creating `model` sets no seed, then the MSE, then advice."""
    cells = (sub.notebook or {}).get("definitions", {}).get("model", [])
    unseeded = bool(cells) and reading(sub, "seeded") is False  # None: the reader could not tell
    saved = reading(sub, "saved_loss")
    fresh = ""
    if saved is not None and saved < threshold:
        fresh = (
            f"\n\nYour notebook's saved output shows a loss of {saved:.4g}, but the grader's fresh run reached "
            f"{number_text(loss)}. Grading re-runs your notebook from a fresh start (like Kernel > Restart & Run "
            + (
                "All), so the model starts from other random weights than in your session."
                if unseeded
                else "All); in your session, cells may have run in another order or more than once."
            )
        )
    if unseeded:
        return (
            f"Cell {cells[-1]}, which creates your final `model`, sets no seed before `model = ...` (no "
            "`torch.manual_seed(...)` above it in that cell): the model's starting weights depend on every random "
            "number drawn before, so a fresh run of the notebook (Restart & Run All, as the grader runs it) can "
            f"start it from other weights than your session did.\n\n{reached}{fresh}\n\nPut `torch.manual_seed(0)` "
            "right before `model = ToyModel()` in the Exercise 5 cell, so every run starts from the same weights, "
            f"then check with Restart & Run All that the loss is below {threshold:g}."
        )
    return (
        f"{reached}{fresh}\n\nTrain for more steps or with another learning rate (for example `torch.optim.Adam` "
        f"with lr=0.01), then check with Restart & Run All that the loss is below {threshold:g}."
    )


def leaderboard(sub: Submission) -> list | None:
    """The leaderboard's column "MSE" (lowest first), when the rubric turns it on (rubric.LEADERBOARD)."""
    value = final_mse(sub)
    return None if value is None else [{"name": "MSE", "value": round(value, 8), "order": "asc"}]
