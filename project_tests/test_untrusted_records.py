"""The parent treats the child's reports as untrusted: forged, out-of-order or inconsistent data scores 0 with a
message and never crashes or hangs the parent."""

import json

import numpy as np
import pytest

from assignments.a0.rubric import PROBES, RUBRIC
from grader.sandbox.channel import ChildReport
from grader.sandbox.launch import ChildRun
from grader.scoring.feedback import CheckFailed
from grader.scoring.submission import Submission
from grader.scoring.summary import summary

NOTEBOOK = {
    "path": "A0.ipynb",
    "reason": "r",
    "notes": [],
    "cells": 3,
    "definitions": {},
    "readings": {"answer": {"text": "", "images": 0, "image_links": 0}, "seeded": True, "autograd": []},
    "grader_evidence": [],
    "code_hash": "x",
}
READY = {"event": "ready", "isolation": {}}


def child_run(role: str, events) -> ChildRun:
    report = ChildReport(role=role)
    for event in events:
        report.add_line(event if isinstance(event, bytes) else json.dumps(event).encode())
    return ChildRun(report, "", 1.0, None, None, 0, "", 0)


def submission(*events, cells_done=True) -> Submission:
    """A submission whose reader read the notebook (NOTEBOOK) and whose runner sent `events` after a normal start
    (ready, cells); its `cells_done` comes before the first probe's event or odd line."""
    runner = [READY, {"event": "cells", "count": 3}]
    for event in events:
        probe = isinstance(event, bytes) or event["event"] in ("probe_start", "record")
        if cells_done and probe and {"event": "cells_done"} not in runner:
            started = [e["cell"] for e in runner if isinstance(e, dict) and e["event"] == "cell_start"]
            for cell in range(max(started, default=0) + 1, 4):  # the runner reports every cell: unreported is news
                runner += [{"event": "cell_start", "cell": cell}, {"event": "cell_end", "cell": cell, "status": "ok"}]
                runner[-1]["seconds"] = 0.1
            runner.append({"event": "cells_done"})
        runner.append(event)
    reading = child_run("reader", [READY, {"event": "notebook", "info": NOTEBOOK}, {"event": "done"}])
    inputs = {name: probe.draw(np.random.default_rng(3)) for name, probe in PROBES.items()}
    return Submission(run=child_run("runner", runner), reading=reading, inputs=inputs)


def check(number: str, sub: Submission) -> str:
    line = RUBRIC[number]
    return line.check(sub, line)


def tensor(shape, values):
    return {"value": {"tensor": {"shape": shape, "values": values}}}


def test_inconsistent_tensor_data_fails_the_check_with_a_message():
    sub = submission({"event": "record", "probe": "forward", "data": {"calls": [tensor([1, 2], [0.5] * 7)] * 3}})
    with pytest.raises(CheckFailed, match="expected a tensor of shape"):
        check("1.1", sub)


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b'{"event": "record", "probe": "forward", "data": {"calls": "x"}}',
        b'{"event": "record", "probe": "forward", "data": {}}',
        b"[1, 2, 3]",
        b'{"event": "cell_end", "cell": 1, "status": "ok", "seconds": 1, "extra": "pickle"}',
        b'{"event": "cell_start", "cell": ' + b"9" * 4000 + b"}",
        b'{"event": "ready", "isolation": {"user": "forged"}}',
    ],
)
def test_data_outside_the_fixed_shape_or_order_is_ignored_and_reported(line):
    sub = submission(line)
    assert sub.report.records == {} and sub.report.cells == {} and sub.report.isolation == {}
    assert ("tampered",) in sub.report.problems
    with pytest.raises(CheckFailed, match="could not check"):
        check("1.2", sub)


def test_cells_out_of_order_cannot_hide_a_failed_cell():
    error = {"type": "ValueError", "message": "real", "cell": 2, "line": 1}
    sub = submission(
        {"event": "cell_start", "cell": 2},
        {"event": "cell_end", "cell": 2, "status": "error", "seconds": 1, "error": error},
        {"event": "cell_start", "cell": 1},  # going back to rewrite cell 2 is refused
        {"event": "cell_start", "cell": 2},
        {"event": "cell_end", "cell": 2, "status": "ok", "seconds": 1},
    )
    assert sub.report.cells[2]["error"]["message"] == "real"


def test_cells_whose_end_was_not_reported_are_named_by_the_parent():
    sub = submission({"event": "cell_start", "cell": 1}, {"event": "cell_start", "cell": 3}, {"event": "cells_done"})
    assert sorted(sub.report.cells) == [1, 2, 3]
    assert {end["error"]["type"] for end in sub.report.cells.values()} == {"NotReported"}
    assert ("unended", 1) in sub.report.problems


def test_records_before_the_last_cell_has_ended_are_refused():
    record = {"event": "record", "probe": "backprop", "data": {"missing": "backprop"}}
    sub = submission(record, cells_done=False)
    assert sub.report.records == {} and ("tampered",) in sub.report.problems


@pytest.mark.parametrize(
    "event",
    [
        {"event": "ta_file", "name": "notebook.html", "base64": "PGI+"},
        {"event": "notebook", "info": {**NOTEBOOK, "readings": {"autograd": []}}},
    ],
)
def test_the_runner_cannot_speak_for_the_reader(event):
    """The notebook's process may send what only the reader sends: it is dropped and noted."""
    sub = submission({"event": "cell_start", "cell": 1}, event)
    assert sub.report.ta_files == {} and sub.report.notebook is None
    assert ("unexpected", event["event"]) in sub.report.problems
    assert "the notebook wrote to the grader's channel" in summary(sub)


def test_a_probe_answered_twice_gets_no_record():
    record = {"event": "record", "probe": "backprop", "data": {"missing": "backprop"}}
    sub = submission(record, record)
    assert "backprop" not in sub.report.records
    with pytest.raises(CheckFailed, match="two answers for its call of `backprop`"):
        check("2.1", sub)


def test_the_missing_message_is_the_graders_own():
    sub = submission({"event": "record", "probe": "model", "data": {"missing": "FULL MARKS PLEASE"}})
    with pytest.raises(CheckFailed) as failure:
        check("5.1", sub)
    assert "`model` is not defined" in str(failure.value) and "FULL MARKS" not in str(failure.value)


def test_a_layer_with_impossible_weights_is_refused():
    layer = {"in_features": 3, "out_features": 4, "weight": {"shape": [2], "values": [1.0, 2.0]}, "bias": None}
    second = {"in_features": 4, "out_features": 2, "weight": {"shape": [2, 4], "values": [0.0] * 8}, "bias": None}
    module = {"is_module": True, "class_name": "ToyModel", "n_params": 26, "linears": [layer, second]}
    sub = submission(
        {
            "event": "record",
            "probe": "toymodel",
            "data": {"object": {"module": module, "call": tensor([9, 2], [0.5] * 18)}},
        }
    )
    with pytest.raises(CheckFailed, match="unexpected shape"):
        check("4.2", sub)


def test_a_huge_empty_shape_fails_the_check_without_a_grader_error():
    sub = submission({"event": "record", "probe": "forward", "data": {"calls": [tensor([2**31, 0], [])] * 3}})
    with pytest.raises(CheckFailed, match="expected a tensor of shape"):
        check("1.1", sub)


def test_a_nine_dimensional_answer_is_a_wrong_shape_not_a_forgery():
    sub = submission(
        {
            "event": "record",
            "probe": "forward",
            "data": {"calls": [{"value": {"other": "tensor with 9 dimensions"}}] * 3},
        }
    )
    with pytest.raises(CheckFailed, match="returned a `tensor with 9 dimensions`; expected a tensor of shape"):
        check("1.1", sub)
    assert sub.report.problems == []


def test_a_reading_is_used_only_when_it_meets_its_schema():
    """The reader's readings reach a check only once the parent has checked them (Assignment.reading)."""
    from assignments.a0.rubric import ASSIGNMENT

    good = {"text": "Yes, with a large rate.", "images": 0, "image_links": 0}
    assert ASSIGNMENT.reading({"readings": {"answer": good}}, "answer") == good
    for bad in ({"text": 5, "images": 0, "image_links": 0}, {"text": "x"}, ["x"], "x"):
        assert ASSIGNMENT.reading({"readings": {"answer": bad}}, "answer") is None
    assert ASSIGNMENT.reading({"readings": {"undeclared": 1}}, "undeclared") is None
    info = {**NOTEBOOK, "readings": {"answer": {"text": 5, "images": 0, "image_links": 0}}}
    sub = Submission(reading=child_run("reader", [READY, {"event": "notebook", "info": info}]))
    assert sub.notebook is not None
    with pytest.raises(CheckFailed, match="was not found"):
        RUBRIC["3"].check(sub, RUBRIC["3"])


@pytest.mark.parametrize(
    "readings",
    [
        {"deep": [[[["too deep"]]]]},
        {"long": "x" * 20_001},
        {"many": list(range(51))},
        {"bad name!": 1},
    ],
    ids=["nested_too_deep", "string_too_long", "list_too_long", "odd_key"],
)
def test_a_reading_past_the_engines_bounds_is_refused_at_the_channel(readings):
    within = {"deep": [[["three deep"]]], "long": {"a": {"b": "x" * 20_000}}, "many": list(range(50))}
    for sent, accepted in ((within, True), (readings, False)):
        report = ChildReport(role="reader")
        report.add_line(json.dumps(READY).encode())
        report.add_line(json.dumps({"event": "notebook", "info": {**NOTEBOOK, "readings": sent}}).encode())
        assert (report.notebook is not None) is accepted, sent


def test_a_reading_that_fails_reports_none_and_the_notebook_is_still_read(tmp_path):
    from grader.notebook.read import read

    (tmp_path / "A0.ipynb").write_text(json.dumps(NOTEBOOK_FILE))
    found = read(tmp_path, readings={"fails": lambda text: 1 / 0, "cells": lambda text: len(text.code)})
    assert found.info["readings"] == {"fails": None, "cells": 1}


NOTEBOOK_FILE = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {},
    "cells": [
        {"cell_type": "code", "id": "a", "metadata": {}, "outputs": [], "execution_count": None, "source": "x = 1"}
    ],
}
