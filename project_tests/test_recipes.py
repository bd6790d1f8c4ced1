"""docs/authoring.md "Adding a probe" and "Adding a reading", followed step by step on a copy of the grader, and
docs/design.md "One grading, step by step" kept true to the code ("Adding a rubric line" is followed by
test_rubric_line.py, "Adding an assignment" by test_authoring.py)."""

import re

from conftest import ROOT, cell_number, edit_cell, grade, grader_copy, save, solution

PROBE = '''

def data_probe(torch, ns, inputs):
    function = defined(ns, "generate_data")
    return {"call": call(torch, function, inputs["n"])}
'''
DRAW = '''

def data_probe(rng):
    return {"n": int(rng.integers(5, 9))}
'''
DECLARATION = (
    '    Probe("data", ("generate_data",), "`generate_data(n)`", inputs.data_probe, probes.data_probe),\n]\nPROBES ='
)
LINE = '''    Line("4.3", "Exercise 4: generate_data(n) gives n rows", 0.5, checks.data_rows, "data"),
]
# fmt: on'''
CHECK = '''

def data_rows(sub, line) -> str:
    value = record(sub, "data")["call"].get("value", {})
    n = sub.inputs["data"]["n"]
    first = as_array(value["sequence"][0]) if value.get("sequence") else None
    if first is None or first.shape != (n, 3):
        raise CheckFailed(f"`generate_data({n})` does not give {n} rows.")
    return f"`generate_data({n})` gives {n} rows of 3."
'''


def _edit(path, old, new):
    text = path.read_text()
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new))


def _grade(copy, nb, folder) -> dict:
    results = grade(save(nb, folder / "submission"), folder / "results.json", runner=copy / "run_autograder")
    return {t["number"]: t for t in results["tests"]}


def test_a_new_probe_takes_three_declarations_and_is_scored_and_explained(tmp_path):
    copy = grader_copy(tmp_path / "grader-copy")
    a0 = copy / "assignments" / "a0"
    (a0 / "probes.py").write_text((a0 / "probes.py").read_text() + PROBE)  # step 1
    (a0 / "inputs.py").write_text((a0 / "inputs.py").read_text() + DRAW)  # step 2
    _edit(a0 / "rubric.py", "]\nPROBES =", DECLARATION)  # step 3
    _edit(a0 / "rubric.py", "\n]\n# fmt: on", "\n" + LINE)  # step 4: a rubric line on it
    (a0 / "checks.py").write_text((a0 / "checks.py").read_text() + CHECK)

    tests = _grade(copy, solution(), tmp_path / "solved")
    assert tests["4.3"]["score"] == 0.5 and re.fullmatch(
        r"`generate_data\(\d\)` gives \d rows of 3\.", tests["4.3"]["output"]
    )

    nb = solution()  # the defining cell fails: the message names it (the reader looked for the probe's name)
    number = cell_number(nb, "def generate_data(")
    edit_cell(nb, number, "def generate_data(N):", 'raise ValueError("not yet")\ndef generate_data(N):')
    tests = _grade(copy, nb, tmp_path / "failing")
    assert tests["4.3"]["score"] == 0
    output = tests["4.3"]["output"]
    assert output.startswith("`generate_data` is not defined when the notebook has finished running.")
    assert f"Cell {number}, which defines `generate_data`, raised `ValueError: not yet`" in output


def test_one_grading_step_by_step_names_what_exists():
    design = (ROOT / "docs" / "design.md").read_text()
    section = design.split("## One grading, step by step\n", 1)[1].split("\n## ", 1)[0]
    files = set(re.findall(r"`((?:grader/|assignments/)?[\w/]+\.py)`", section))
    assert len(files) >= 10
    for name in files:
        path = ROOT / name if name.startswith(("grader/", "assignments/", "tests/")) else ROOT / "grader" / name
        assert path.is_file(), name
    code = "\n".join(p.read_text() for p in (ROOT / "grader").rglob("*.py"))
    for name in re.findall(r"`(\w+)\(\)`", section):  # the functions it names
        assert re.search(rf"def {name}\(", code), name


READING = '''

def todo_left(text) -> list:
    """The lines that still hold a `# TODO` of the handout: ["cell 3, line 2: # TODO"]."""
    found = [(n, i, line.strip()) for n, source in text.code for i, line in enumerate(source.split("\\n")[:1000], 1)]
    return [f"cell {n}, line {i}: {line[:200]}" for n, i, line in found if "# TODO" in line][:10]


SCHEMAS["todo_left"] = {"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 300}}
'''
FLAG = """
def todo_left(sub):
    lines = sub.assignment.reading(sub.notebook, "todo_left")
    return ("reader", lines) if lines else None


FLAGS.append(Flag("todo_left", "TODO left", "a `# TODO` of the handout is still there; no points taken", todo_left))

ASSIGNMENT = Assignment("""


def test_a_new_reading_and_its_flag_reach_the_staff_with_their_lines(tmp_path):
    copy = grader_copy(tmp_path / "grader-copy")
    a0 = copy / "assignments" / "a0"
    (a0 / "readings.py").write_text((a0 / "readings.py").read_text() + READING)  # step 1: the reading
    _edit(a0 / "rubric.py", "\nASSIGNMENT = Assignment(", FLAG)  # step 2: its flag

    results = grade(
        save(solution(), tmp_path / "submission"), tmp_path / "results.json", runner=copy / "run_autograder"
    )
    facts = results["extra_data"]
    assert results["score"] == 15 and facts["flags"] == ["todo_left"] and facts["flag_sources"]["todo_left"] == "reader"
    forward = cell_number(solution(), "def forward(")
    assert f"cell {forward}, line 2: # TODO:" in facts["evidence"]["todo_left"]
