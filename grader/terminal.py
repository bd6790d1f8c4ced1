"""A readable summary of a results.json for the terminal: the notebook graded, one line a test, the total."""

import re

# Escape sequences (CSI, OSC, other ESC), then any other control character, and the bidi overrides that
# reorder what a terminal shows: a notebook's text must not move the cursor, retitle the window or hide lines.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text) -> str:
    """`text` (which may come from a student) with no escape sequence or control character left but newlines
    and tabs."""
    return _CONTROLS.sub("", _ESCAPES.sub("", str(text)))


def _line(text) -> str:
    return " ".join(clean(text).split())


SEEN_BY = {  # who saw a flag (extra_data.flag_sources) -> what the terminal and the pages say
    "parent": "observed by the grader",
    "reader": "read in the notebook's code",
    "runner": "reported by the notebook's own process",
    "both": "read in the notebook's code and reported by its process",
}
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # Markdown's backslash escapes: the terminal shows the character


def _reason(output: str) -> str:
    """The first sentence of a test's output, in full (its hint follows it), on one line; a sentence that ends in a
    colon goes on with the list after it (the distances of 2.2 and 2.3), so the line reaches its numbers; a name
    that is missing goes on with the cell that should have defined it ("Cell 7, which defines `f`, raised
    ...", feedback.py), so the line names the cause."""
    text = _ESCAPED.sub(r"\1", re.sub(r"```.*?```", "", clean(output), flags=re.S))
    lines = [line.strip() for line in text.splitlines()]
    at = next((i for i, line in enumerate(lines) if line), len(lines))
    first = lines[at].strip("-> \t") if at < len(lines) else ""
    sentence = re.match(r".*?[.!?](?=\s|$)", first)
    first = sentence.group(0) if sentence else first
    cause = next((line for line in lines[at + 1 : at + 4] if line), "")
    if re.match(r"Cell \d+, which defines ", cause):
        ends = re.match(r".*?\)\.(?=\s|$)|.*?[.!?](?=\s|$)", cause)  # "(cell 33, line 2)." ends it
        first = f"{first} {ends.group(0) if ends else cause}"
    if first.endswith(":"):
        items = []
        for line in lines[at + 1 : at + 40]:
            if line.startswith("- "):
                items.append(line[2:].strip())
            elif line or items:
                break
        first = f"{first} {'; '.join(items)}" if items else first
    return (first[:797] + "...") if len(first) > 800 else first


def print_table(results: dict, path) -> None:
    facts = results.get("extra_data") or {}
    notebook = facts.get("notebook")
    print(f"\nnotebook: {_line(notebook) if notebook else '(none found)'}")
    if facts.get("problem"):
        print(f"problem:  {_line(facts['problem'])[:300]}")
    missing = facts.get("not_in_force") or []
    if missing:
        print("sandbox:  NOT in force on this machine: " + ", ".join(_line(m) for m in missing))
    if files_unconfined(missing):
        print(
            "sandbox:  WARNING: nothing confined this notebook's files (no sandbox user, no Landlock): it could read "
            "and change every file you can. Grade students' work on Linux 5.13+ or as root."
        )
    secret = facts.get("secret")
    if secret == "development":
        print(
            "secret:   the development secret (this checkout has no .grader-secret): scores of correct work hold, "
            "but a student's numbers differ from Gradescope's; get the course's: make secret FROM=autograder.zip"
        )
    elif isinstance(secret, str):
        print(f"grader:   version {_line(facts.get('grader_version'))[:20]}, the course's secret {_line(secret)[:20]}")
    failed = facts.get("failed_cells") or []
    if failed:
        print("failed cells: " + ", ".join(f"cell {_line(n)}" for n in failed))
    print(f"{'test':<6} {'score':>9}  reason")
    for test in results.get("tests", []):
        mark = "ok " if test.get("status") == "passed" else "XX "
        score = f"{test.get('score', 0):g}/{test.get('max_score', 0):g}"
        print(f"{mark}{clean(test.get('number', '')):<3} {score:>9}  {_reason(test.get('output', ''))}")
    by_hand = facts.get("by_hand")
    by_hand = by_hand if isinstance(by_hand, dict) else {}
    if isinstance(by_hand.get("answer"), str):  # graded by hand: the TA reads it here
        text = _line(by_hand["answer"])
        print(f"answer to test {_line(str(by_hand.get('test') or '?'))[:10]}, graded by hand: "
              f"{text[:597] + '...' if len(text) > 600 else text or '(empty)'}")  # fmt: skip
    print_flags(facts)
    total = sum(t.get("max_score", 0) for t in results.get("tests", []))
    print(f"total  {results.get('score', 0):g}/{total:g}   ({results.get('execution_time', 0)} s)")
    print(f"results: {path}")


def files_unconfined(missing: list) -> bool:
    """Neither a user switch nor Landlock was in force (the child's `not_in_force`)."""
    names = [str(m) for m in missing]
    return any(m.startswith("user switch") for m in names) and any(m.startswith("Landlock (") for m in names)


def print_flags(facts: dict) -> None:
    """Every flag for the staff, who saw it, and the lines it rests on (extra_data.evidence: student code, inert)."""
    sources = v if isinstance(v := facts.get("flag_sources"), dict) else {}
    evidence = v if isinstance(v := facts.get("evidence"), dict) else {}
    for flag in [f for f in facts.get("flags") or [] if isinstance(f, str)][:20]:
        seen = SEEN_BY.get(str(sources.get(flag)), "")
        print(f"FLAG     {_line(flag)[:60]}" + (f" ({seen})" if seen else ""))
        lines = v if isinstance(v := evidence.get(flag), list) else []
        for line in lines[:20]:
            text = _line(line)
            print(f"           {text[:197] + '...' if len(text) > 200 else text}")
