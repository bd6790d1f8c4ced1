"""Flags a TA should look at, and the failure "causes" the class report groups by."""

import re

LABELS = {  # code -> what the report says
    "identical": "identical notebook",
    "reaches_into_grader": "code reaching into the grader",
    "cell_timeout": "cell stopped at its time limit",
    "run_timeout": "whole run stopped at its time limit",
    "memory_limit": "memory limit hit",
    "not_graded": "not graded",
    "differs_from_gradescope": "differs from Gradescope",
}
SEEN_BY = {  # who saw a flag -> what the pages say
    "parent": "observed by the grader",
    "reader": "read in the notebook's code",
    "runner": "reported by the notebook's own process",
    "both": "read in the notebook's code and reported by its process",
}
_NUMBER = re.compile(r"(?<![\w.])[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")  # not the 1 of `x1`
_KEPT_AFTER = re.compile(r"(cell|cells|exercise|test|tests|line|lines)\s*$", re.I)  # "test 2", "cell 7"
_KNOCK_ON = re.compile(r"same cause as (?:test )?(\d+(?:\.\d+)?)", re.I)
CAUSE_LENGTH = 120


def facts_of(results) -> dict:
    facts = (results or {}).get("extra_data")
    return facts if isinstance(facts, dict) else {}


def flags_of(results, problem: str) -> list:
    """The grader's own flags (extra_data.flags), plus not_graded when there are no results or no notebook."""
    facts = facts_of(results)
    flags = [str(f) for f in facts.get("flags") or [] if isinstance(f, str)]
    if (not results or facts.get("problem") or (problem and not results)) and "not_graded" not in flags:
        flags.append("not_graded")
    return flags


def seen_by_of(results, flag_list: list) -> str:
    """grades.csv's flags_seen_by: "flag: who" for each flag; the grader's own flags (not_graded, identical)
    and any a results.json does not attribute are the parent's only when it could have seen them."""
    sources = facts_of(results).get("flag_sources")
    sources = sources if isinstance(sources, dict) else {}
    return "; ".join(f"{flag}: {sources.get(flag) if sources.get(flag) in SEEN_BY else 'parent'}" for flag in flag_list)


def identical_groups(results_by_id: dict) -> dict:
    """{submission id: [the other submissions with the same code_hash]}, for groups of two or more."""
    by_hash = {}
    for sub_id, results in results_by_id.items():
        code_hash = facts_of(results).get("code_hash")
        if results and code_hash and not facts_of(results).get("problem"):
            by_hash.setdefault(code_hash, []).append(sub_id)
    return {
        sub_id: [other for other in group if other != sub_id]
        for group in by_hash.values()
        if len(group) > 1
        for sub_id in group
    }


def failed_tests(results) -> list:
    """The tests of a results.json that did not get full marks, or failed (a hand-graded test is worth 0 points)."""
    return [
        t
        for t in (results or {}).get("tests", [])
        if t.get("status") == "failed" or t.get("score", 0) < t.get("max_score", 0)
    ]


def cause_of(output: str) -> str:
    """The first line of a test's output, measured numbers replaced by #, so that failures of one kind count
    together; the numbers that name something (an exercise, cell 7, test 1.1) are kept."""
    first = next((line.strip() for line in (output or "").splitlines() if line.strip()), "(no message)")

    def mask(match):
        return match.group(0) if _KEPT_AFTER.search(first[: match.start()]) else "#"

    cause = " ".join(_NUMBER.sub(mask, first).split())
    return cause if len(cause) <= CAUSE_LENGTH else cause[: CAUSE_LENGTH - 1] + "…"


def first_cause(test: dict, tests: dict, line: str, kind=None) -> str:
    """The cause a failure counts under, once: a knock-on failure ("same cause as test 1.1") counts under that
    test's cause; a failure of rubric line `line` under `kind(line, output)` when the assignment names one
    (Assignment.cause), else under its first line (cause_of)."""
    output, number = test.get("output", ""), test.get("number")
    for _ in range(len(tests)):  # each step goes to another test: bounded
        earlier = _KNOCK_ON.search(output or "")
        if not earlier or earlier.group(1) not in tests or tests[earlier.group(1)] is test:
            break
        test = tests[earlier.group(1)]
        output = test.get("output", "")
    if test.get("number") != number:
        return f"test {test.get('number')} failed first: {cause_of(output)}"
    return (kind and kind(line, output or "")) or cause_of(output)
