"""The child-to-parent contract is written as TypedDicts and as the JSON schema the parent validates: they must say
the same, and the child sends only declared events, by their declared names."""

import os
import re
import typing

import pytest
from conftest import ROOT

from grader import records
from grader.child.report import Reporter

DEFS = records.SCHEMA["$defs"]
PAIRS = [
    (records.Error, DEFS["error"]),
    (records.Tensor, DEFS["tensor"]),
    (records.Value, DEFS["value"]),
    (records.Call, DEFS["call"]),
    (records.Linear, DEFS["linear"]),
    (records.Module, DEFS["module"]),
    (records.ModuleCall, DEFS["record"]["properties"]["object"]),
    (records.Record, DEFS["record"]),
    (records.NotebookInfo, DEFS["notebook"]),
]


@pytest.mark.parametrize("kind, schema", PAIRS, ids=[kind.__name__ for kind, _ in PAIRS])
def test_each_typed_dict_and_its_schema_name_the_same_fields(kind, schema):
    assert set(typing.get_type_hints(kind)) == set(schema["properties"])
    assert schema.get("additionalProperties") is False
    if "required" in schema and kind.__total__:
        assert set(kind.__required_keys__) == set(schema["required"]), kind.__name__


def test_the_child_names_events_only_by_their_declarations():
    for path in (ROOT / "grader" / "child").rglob("*.py"):
        assert not re.search(r"""["']event["']\s*:\s*["']""", path.read_text()), path.name


def test_an_undeclared_event_is_refused_before_it_is_sent(tmp_path):
    read, write = os.pipe()
    reporter = Reporter(write)
    with pytest.raises(ValueError, match="not a declared event"):
        reporter.send("probe_started", probe="x")
    reporter.send(records.PROBE_START, probe="x")
    os.close(write)
    assert os.read(read, 1000) == b'{"event": "probe_start", "probe": "x"}\n'
    os.close(read)
