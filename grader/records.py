"""What the child reports to the parent, declared once: one JSON object a line ("event"), plain data only.

The child builds these (grader/child/), the parent validates every line against SCHEMA (grader/sandbox/channel.py)
and scoring reads them by these names. Student code shares the child's process and may write lines too, so
nothing here is trusted: sizes are capped and numbers bounded, and scoring recomputes every expected value itself.
"""

from typing import TypedDict


class Error(TypedDict, total=False):
    type: str
    message: str
    cell: int | None  # the code cell (1-based) and line where it was raised, if in the student's cells
    line: int | None
    traceback: str  # the student's own frames only (optional)
    filename: str  # an OSError's file name (optional)


class Tensor(TypedDict, total=False):
    shape: list[int]
    dtype: str  # optional
    values: list[float] | None  # None when too large to send


class Value(TypedDict, total=False):  # exactly one key
    tensor: Tensor
    sequence: list["Value"]
    other: str  # the type name of anything else


class Autograd(TypedDict):  # what torch's profiler saw of autograd's engine during a probe (child/observe.py)
    nodes: int  # backward functions the engine evaluated, on any thread of the process
    other_threads: bool  # some ran on a thread other than the grader's call
    names: list[str]  # the first few, as torch names them ("MmBackward0")


class Call(TypedDict, total=False):  # "value" or "error"; "autograd" when torch observed the engine during the call
    value: Value
    error: Error
    autograd: Autograd


class Linear(TypedDict):
    in_features: int
    out_features: int
    weight: Tensor
    bias: Tensor | None


class Module(TypedDict):
    is_module: bool
    class_name: str
    n_params: int
    linears: list[Linear]


Facts = dict[
    str, bool | int | float | str | None | dict[str, bool]
]  # a probe's facts for its advice (None: cannot tell)


class _ModuleCall(TypedDict):
    module: Module
    call: Call


class ModuleCall(_ModuleCall, total=False):
    facts: Facts


class Record(TypedDict, total=False):  # exactly one key: what one probe found
    missing: str  # the name the probe needs is not defined
    error: Error  # the probe could not run (e.g. the constructor raised)
    calls: list[Call]  # one call per input batch
    call: Call
    object: ModuleCall


class _NotebookInfo(TypedDict):
    path: str  # the graded notebook, relative to the submission
    reason: str  # why this one (plain text)
    notes: list[str]
    cells: int  # number of code cells
    definitions: dict[str, list[int]]  # checked name -> code cells that define it
    readings: dict[str, object]  # the assignment's readings (Assignment.readings): plain data, bounded (_plain)
    grader_evidence: list[str]  # lines reaching into the grader: its memory, its channel, patched torch (scan)
    code_hash: str  # the code cells without whitespace: equal for identical notebooks


class NotebookInfo(_NotebookInfo, total=False):
    near: dict[str, list]  # a checked name no cell defines -> [[a name a slip away from it, its cell]]


# Events, by their "event" field; EVENT_KINDS gives each its own share of the channel (see channel.py).
READY, NOTEBOOK, UNGRADABLE, CELL_START, CELL_END, NOTE, PROBE_START, RECORD, TA_FILE, DONE = (
    "ready",
    "notebook",
    "ungradable",
    "cell_start",
    "cell_end",
    "note",
    "probe_start",
    "record",
    "ta_file",
    "done",
)
CELLS, CELLS_DONE = "cells", "cells_done"  # the runner: how many code cells it will run; the last one has ended
CHANNEL_FD = 3  # where a child forked warm finds its channel (a cold child is told the number in its configuration)
LOADED = "loaded"  # the reader holds the notebook's text (the runner may now read it and run it)
# Who may say what: the reader (never runs student code) and the runner (runs it, so it may say anything).
ROLE_EVENTS = {
    "reader": {READY, LOADED, NOTEBOOK, UNGRADABLE, TA_FILE, DONE},
    "runner": {READY, CELLS, UNGRADABLE, CELL_START, CELL_END, NOTE, CELLS_DONE, PROBE_START, RECORD, DONE},
}
CELL_STATUSES = ("ok", "error", "timeout", "exit")
MAX_CELLS = 100_000
MAX_TEXT = 20_000
MAX_VALUES = 100_000

_STR = {"type": "string", "maxLength": MAX_TEXT}
_SHORT = {"type": "string", "maxLength": 500}
_INT = {"type": "integer", "minimum": -(2**31), "maximum": 2**31}
_CELL = {"type": "integer", "minimum": 1, "maximum": MAX_CELLS}
_NUMBER = {"type": "number"}


_NAME = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$"}
_SCALAR = {"type": ["boolean", "null", "number", "string"], "maxLength": MAX_TEXT}
_MARKS = {"type": "object", "maxProperties": 64, "propertyNames": _NAME, "additionalProperties": {"type": "boolean"}}
_FACTS = {
    "type": "object",
    "maxProperties": 16,
    "propertyNames": _NAME,
    "additionalProperties": {"anyOf": [_SCALAR, _MARKS]},
}


def _plain(depth: int) -> dict:
    """Plain JSON data nested at most `depth` deep, every string, list and object bounded (a reading's result; the
    assignment's own schema narrows it in the parent, Assignment.reading)."""
    if depth == 0:
        return _SCALAR
    inner = _plain(depth - 1)
    return {
        "anyOf": [
            _SCALAR,
            {"type": "array", "maxItems": 50, "items": inner},
            {"type": "object", "maxProperties": 16, "propertyNames": _NAME, "additionalProperties": inner},
        ]
    }


def _object(required, optional=None, **extra):
    properties = {**required, **(optional or {})}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(required),
        "properties": properties,
        **extra,
    }


def _one_of_keys(properties):
    return {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
        "properties": properties,
    }


def _event(name, required=None, optional=None):
    return _object({"event": {"const": name}, **(required or {})}, optional)


_DEFS = {
    "error": _object(
        {
            "type": _SHORT,
            "message": _STR,
            "cell": {"anyOf": [_CELL, {"type": "null"}]},
            "line": {"anyOf": [_INT, {"type": "null"}]},
        },
        {"traceback": _STR, "filename": _SHORT},
    ),
    "tensor": _object(
        {
            "shape": {"type": "array", "maxItems": 8, "items": {"type": "integer", "minimum": 0, "maximum": 2**31}},
            "values": {"type": ["array", "null"], "items": _NUMBER, "maxItems": MAX_VALUES},
        },
        {"dtype": _SHORT},
    ),
    "value": _one_of_keys(
        {
            "tensor": {"$ref": "#/$defs/tensor"},
            "other": _SHORT,
            "sequence": {"type": "array", "maxItems": 16, "items": {"$ref": "#/$defs/value"}},
        }
    ),
    "call": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 2,
        "properties": {
            "value": {"$ref": "#/$defs/value"},
            "error": {"$ref": "#/$defs/error"},
            "autograd": _object(
                {
                    "nodes": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
                    "other_threads": {"type": "boolean"},
                    "names": {
                        "type": "array",
                        "maxItems": 8,
                        "items": {"type": "string", "pattern": "^[A-Za-z0-9_:.]{1,80}$"},
                    },
                }
            ),
        },
    },
    "linear": _object(
        {
            "in_features": _INT,
            "out_features": _INT,
            "weight": {"$ref": "#/$defs/tensor"},
            "bias": {"anyOf": [{"$ref": "#/$defs/tensor"}, {"type": "null"}]},
        }
    ),
    "module": _object(
        {
            "is_module": {"type": "boolean"},
            "class_name": _SHORT,
            "n_params": _INT,
            "linears": {"type": "array", "maxItems": 64, "items": {"$ref": "#/$defs/linear"}},
        }
    ),
    "record": _one_of_keys(
        {
            "missing": _SHORT,
            "error": {"$ref": "#/$defs/error"},
            "call": {"$ref": "#/$defs/call"},
            "calls": {"type": "array", "maxItems": 8, "items": {"$ref": "#/$defs/call"}},
            "object": _object(
                {"module": {"$ref": "#/$defs/module"}, "call": {"$ref": "#/$defs/call"}},
                {"facts": _FACTS},
            ),
        }
    ),
    "notebook": _object(
        {
            "path": _SHORT,
            "reason": _STR,
            "notes": {"type": "array", "maxItems": 50, "items": _STR},
            "cells": {"type": "integer", "minimum": 0, "maximum": MAX_CELLS},
            "definitions": {
                "type": "object",
                "maxProperties": 16,
                "additionalProperties": {"type": "array", "maxItems": 100, "items": _CELL},
            },
            "readings": {
                "type": "object",
                "maxProperties": 16,
                "propertyNames": _NAME,
                "additionalProperties": _plain(3),
            },
            "grader_evidence": {"type": "array", "maxItems": 20, "items": _SHORT},
            "code_hash": _SHORT,
        },
        {
            "near": {
                "type": "object",
                "maxProperties": 16,
                "additionalProperties": {
                    "type": "array",
                    "maxItems": 3,
                    "items": {"type": "array", "prefixItems": [_NAME, _CELL], "items": False, "minItems": 2},
                },
            }
        },
    ),
}

EVENTS = {  # the schema of each event, by its "event" field
    READY: _event(READY, {"isolation": {"type": "object", "maxProperties": 16}}),
    NOTEBOOK: _event(NOTEBOOK, {"info": {"$ref": "#/$defs/notebook"}}),
    CELLS: _event(CELLS, {"count": {"type": "integer", "minimum": 0, "maximum": MAX_CELLS}}),
    CELLS_DONE: _event(CELLS_DONE),
    LOADED: _event(LOADED),
    UNGRADABLE: _event(UNGRADABLE, {"reason": _STR}, {"path": _SHORT}),
    CELL_START: _event(CELL_START, {"cell": _CELL}),
    CELL_END: _event(
        CELL_END,
        {"cell": _CELL, "status": {"enum": list(CELL_STATUSES)}, "seconds": _NUMBER},
        {
            "error": {"$ref": "#/$defs/error"},
            "first_line": _SHORT,
            "defines": {"type": "array", "maxItems": 200, "items": _SHORT},
            "exit_by": {"enum": ["argparse"]},  # a SystemExit raised inside argparse (words only)
        },
    ),
    NOTE: _event(NOTE, {"text": _STR}, {"cell": _CELL}),
    PROBE_START: _event(PROBE_START, {"probe": _SHORT}),
    RECORD: _event(RECORD, {"probe": _SHORT, "data": {"$ref": "#/$defs/record"}}),
    TA_FILE: _event(
        TA_FILE,
        {
            "name": {"type": "string", "pattern": r"^(notebook\.html|answer-[1-5]\.(png|jpeg|gif))$"},
            "base64": {"type": "string", "maxLength": 32 * 2**20},
        },
    ),
    DONE: _event(DONE),
}
SCHEMA = {"$defs": _DEFS, "oneOf": list(EVENTS.values())}
