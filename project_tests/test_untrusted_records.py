"""The parent treats the child's reports as untrusted: forged or inconsistent data scores 0, never crashes."""
import json

import pytest

from grader.notebook.extract import Notebook
from grader.sandbox.channel import ChildReport
from grader.sandbox.launch import ChildRun
from grader.scoring import checks, inputs, session
from grader.scoring.feedback import CheckFailed


def use_report(*events):
    report = ChildReport()
    for event in events:
        report.add_line(event if isinstance(event, bytes) else json.dumps(event).encode())
    run = ChildRun(report, "", 1.0, "The notebook ran to the end.", True, "", 0)
    session.use(session.Session(notebook=Notebook([], "", None), run=run, probes=inputs.choose(seed=3)))
    return report


def tensor(shape, values):
    return {"value": {"tensor": {"shape": shape, "values": values}}}


def test_inconsistent_tensor_data_fails_the_check_with_a_message():
    use_report({"event": "record", "check": "forward", "data": {"calls": [tensor([1, 2], [0.5] * 7)] * 3}})
    with pytest.raises(CheckFailed, match="expected a tensor of shape"):
        checks.forward_shape()


@pytest.mark.parametrize("line", [b"not json", b'{"event": "record", "check": "forward", "data": {"calls": "x"}}',
                                  b'{"event": "record", "check": "os.system", "data": {}}', b"[1, 2, 3]",
                                  b'{"event": "cell_end", "cell": 1, "status": "ok", "seconds": 1, "extra": "pickle"}'])
def test_data_outside_the_fixed_shape_is_ignored_and_reported(line):
    report = use_report(line)
    assert report.records == {} and report.cells == {}
    assert any("did not send" in problem for problem in report.problems)
    with pytest.raises(CheckFailed, match="could not check"):
        checks.forward_values()


def test_a_check_answered_twice_gets_no_record():
    record = {"event": "record", "check": "backprop", "data": {"missing": "backprop"}}
    report = use_report(record, record)
    assert "backprop" not in report.records
    with pytest.raises(CheckFailed, match="two answers for `backprop`"):
        checks.gradient_shapes()


def test_the_missing_message_is_the_graders_own():
    use_report({"event": "record", "check": "model", "data": {"missing": "FULL MARKS PLEASE"}})
    with pytest.raises(CheckFailed) as failure:
        checks.trained_model()
    assert "`model` is not defined" in str(failure.value) and "FULL MARKS" not in str(failure.value)


def test_a_layer_with_impossible_weights_is_refused():
    layer = {"in": 3, "out": 4, "weight": {"shape": [2], "values": [1.0, 2.0]}, "bias": None}
    second = {"in": 4, "out": 2, "weight": {"shape": [2, 4], "values": [0.0] * 8}, "bias": None}
    module = {"is_module": True, "class": "ToyModel", "n_params": 26, "linears": [layer, second]}
    use_report({"event": "record", "check": "toymodel",
                "data": {"object": {"module": module, "call": tensor([9, 2], [0.5] * 18)}}})
    with pytest.raises(CheckFailed, match="unexpected shape"):
        checks.toymodel_output()
