"""What the child may report, checked by the parent: JSON lines of plain numbers, strings and lists.

Student code shares the child's process and can write to the channel too, so nothing here is trusted:
every line is size-capped and validated against a fixed shape, and a check whose record is malformed or
sent twice gets no record at all (scoring then gives 0 with a message).
"""
import json
from dataclasses import dataclass, field

import jsonschema

# What grader.child.probes reports on, and how messages name the grader's call of each.
CALLED = {"model": "your trained `model`", "toymodel": "`ToyModel()`", "forward": "`forward(x)`",
          "backprop": "`backprop(X)`"}
CHECKS = list(CALLED)
_STR = {"type": "string", "maxLength": 20000}
_INT = {"type": "integer"}
SCHEMA = {
    "$defs": {
        "tensor": {"type": "object", "additionalProperties": False, "required": ["shape", "values"],
                   "properties": {"shape": {"type": "array", "items": {"type": "integer", "minimum": 0},
                                            "maxItems": 8},
                                  "dtype": _STR,
                                  "values": {"type": ["array", "null"], "items": {"type": "number"},
                                             "maxItems": 100000}}},
        "error": {"type": "object", "additionalProperties": False, "required": ["type", "message"],
                  "properties": {"type": _STR, "message": _STR, "cell": {"type": ["integer", "null"]},
                                 "line": {"type": ["integer", "null"]}, "traceback": _STR}},
        "value": {"type": "object", "maxProperties": 1, "minProperties": 1, "properties": {
            "tensor": {"$ref": "#/$defs/tensor"},
            "sequence": {"type": "array", "maxItems": 16, "items": {"$ref": "#/$defs/value"}},
            "other": _STR}, "additionalProperties": False},
        "call": {"type": "object", "maxProperties": 1, "minProperties": 1, "additionalProperties": False,
                 "properties": {"value": {"$ref": "#/$defs/value"}, "error": {"$ref": "#/$defs/error"}}},
        "module": {"type": "object", "additionalProperties": False,
                   "required": ["is_module", "class", "linears", "n_params"],
                   "properties": {"is_module": {"type": "boolean"}, "class": _STR, "n_params": _INT,
                                  "linears": {"type": "array", "maxItems": 64, "items": {
                                      "type": "object", "additionalProperties": False,
                                      "required": ["in", "out", "weight", "bias"],
                                      "properties": {"in": _INT, "out": _INT, "weight": {"$ref": "#/$defs/tensor"},
                                                     "bias": {"anyOf": [{"$ref": "#/$defs/tensor"},
                                                                        {"type": "null"}]}}}}}},
    },
    "oneOf": [
        {"type": "object", "additionalProperties": False, "required": ["event", "isolation"],
         "properties": {"event": {"const": "ready"}, "isolation": {"type": "object"}}},
        {"type": "object", "additionalProperties": False, "required": ["event", "cell"],
         "properties": {"event": {"const": "cell_start"}, "cell": _INT}},
        {"type": "object", "additionalProperties": False, "required": ["event", "check"],
         "properties": {"event": {"const": "check_start"}, "check": {"enum": CHECKS}}},
        {"type": "object", "additionalProperties": False, "required": ["event", "cell", "status", "seconds"],
         "properties": {"event": {"const": "cell_end"}, "cell": _INT,
                        "status": {"enum": ["ok", "error", "timeout", "exit"]},
                        "seconds": {"type": "number"}, "error": {"$ref": "#/$defs/error"}}},
        {"type": "object", "additionalProperties": False, "required": ["event", "check", "data"],
         "properties": {"event": {"const": "record"}, "check": {"enum": CHECKS},
                        "data": {"type": "object", "maxProperties": 1, "minProperties": 1,
                                 "additionalProperties": False, "properties": {
                                     "missing": _STR,
                                     "error": {"$ref": "#/$defs/error"},
                                     "calls": {"type": "array", "maxItems": 8, "items": {"$ref": "#/$defs/call"}},
                                     "call": {"$ref": "#/$defs/call"},
                                     "object": {"type": "object", "additionalProperties": False,
                                                "required": ["module", "call"],
                                                "properties": {"module": {"$ref": "#/$defs/module"},
                                                               "call": {"$ref": "#/$defs/call"}}}}}}},
        {"type": "object", "additionalProperties": False, "required": ["event"],
         "properties": {"event": {"const": "done"}}},
    ],
}
_validator = jsonschema.Draft202012Validator(SCHEMA)


@dataclass
class ChildReport:
    """Everything the parent learned from the child, as plain data."""
    isolation: dict | None = None
    cells: dict = field(default_factory=dict)      # cell number -> cell_end event
    records: dict = field(default_factory=dict)     # check -> data
    running: tuple | None = None                    # ("cell", 12) or ("check", "forward"): started, not ended
    done: bool = False
    problems: list = field(default_factory=list)   # the channel was misused: shown to the student
    _conflicts: set = field(default_factory=set)

    def add_line(self, line: bytes):
        try:
            event = json.loads(line)
            _validator.validate(event)
        except (ValueError, RecursionError, jsonschema.ValidationError):   # deep nesting: RecursionError
            self._problem("The grader received data it did not send (the notebook wrote to the grader's channel); "
                          "it was ignored.")
            return
        kind = event["event"]
        if kind == "ready":
            self.isolation = event["isolation"]
        elif kind == "cell_start":
            self.running = ("cell", event["cell"])
        elif kind == "cell_end":
            self.cells[event["cell"]] = event
            self.running = None
        elif kind == "check_start":
            self.running = ("check", event["check"])
        elif kind == "record":
            self._add_record(event["check"], event["data"])
            self.running = None
        elif kind == "done":
            self.done = True

    def _add_record(self, check, data):
        if check in self.records or check in self._conflicts:
            self.records.pop(check, None)
            self._conflicts.add(check)
            self._problem(f"The grader received two answers for `{check}`; neither was used.")
        else:
            self.records[check] = data

    def _problem(self, text):
        if text not in self.problems:
            self.problems.append(text)
