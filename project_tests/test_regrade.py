"""A regrade course staff can trust: Gradescope's results beside the local ones, every change listed after
a rubric change, Exercise 3 anonymous and grouped, causes that add up, a spreadsheet-safe grades.csv, and a batch
that stops clean when its terminal closes."""

import csv
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import DEVELOPMENT, FORWARD, ROOT, edit_cell, processes_of, sandbox_user, save, solution
from test_batch import start_batch, write
from test_report import insert_cells, with_answer

from assignments.a0.rubric import RUBRIC

FULL = {number: line.points for number, line in RUBRIC.items()}


def gradescope_results(scores: dict) -> str:
    """The `:results:` of one submission as Gradescope's export writes it: the results.json the student saw."""
    tests = "".join(
        f"    - name: '{RUBRIC[n].name}'\n      number: '{n}'\n      score: {s}\n      max_score: {RUBRIC[n].points}\n"
        for n, s in scores.items()
    )
    return f"  :results:\n    score: {sum(scores.values())}\n    execution_time: 6.2\n    tests:\n{tests}"


METADATA = f"""\
---
submission_101:
  :submitters:
  - :name: Zoë Çelik
    :sid: "=1+1"
    :email: zoe@uw.edu
  - :name: "@Grace O'Hara"
    :sid: '2002'
    :email: grace@uw.edu
  :created_at: 2025-01-10 09:30:00.000000000 -08:00
  :score: !ruby/object:BigDecimal 18:0.15e2
  :status: processed
{gradescope_results(FULL)}  :history:
  - :created_at: 2025-01-09 09:30:00.000000000 -08:00
    :score: 9.0
submission_102:
  :submitters:
  - :name: '=HYPERLINK("http://x", "<b>陈</b>")'
    :sid: '-3'
    :email: "\\tchen@uw.edu"
  :created_at: 2025-01-10 10:00:00.000000000 -08:00
  :score: 15.0
{gradescope_results(FULL)}submission_103:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1815'
  :score: 11.0
{gradescope_results(FULL | {"5.1": 0})}submission_104:
  :submitters:
  - :name: Alan Turing
  :score: 15.0
"""  # 104: Gradescope's score came from another grading than this one: it must be flagged


def make_export(export: Path) -> None:
    write(export, "submission_metadata.yml", METADATA)
    save(with_answer(solution(), "The loss goes down."), export / "submission_101")
    save(with_answer(solution(), "The  loss goes\ndown. "), export / "submission_102")  # the same answer
    save(with_answer(solution(steps=50, warm=False), ""), export / "submission_103")  # MSE about 0.18; no answer
    save(edit_cell(solution(), FORWARD, "h = z1.relu()", "h = z1.sigmoid()"), export / "submission_104")


def batch(grader: Path, export: Path, out: Path) -> str:
    done = start_batch(export, out, timeout=600, jobs=1, grader=grader)  # one warm start
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def read(path: Path) -> list:
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark: Excel reads it right
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def assert_formula_safe(rows: list) -> None:
    for row in rows:
        for value in row.values():
            assert not re.match(r"[=+\-@\t\r]", value) or re.fullmatch(r"-?\d+(\.\d+)?", value), (value, row)


def grader_copy(tmp_path: Path, tolerance_5_1: str) -> Path:
    """This grader with another 5.1 tolerance, and the same secret (so the same inputs)."""
    copy = tmp_path / "grader-copy"
    copy.mkdir()
    for name in ("grader", "assignments", "tests"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "run_autograder", copy / "run_autograder")
    if (ROOT / ".grader-secret").is_file():  # else both grade with the development secret
        shutil.copy2(ROOT / ".grader-secret", copy / ".grader-secret")
    os.symlink(os.path.realpath(ROOT / ".venv"), copy / ".venv")
    rubric = copy / "assignments" / "a0" / "rubric.py"
    assert rubric.read_text().count('"model", tolerance=0.01)') == 1
    rubric.write_text(rubric.read_text().replace('"model", tolerance=0.01)', f'"model", tolerance={tolerance_5_1})'))
    return copy


@pytest.mark.slow(35)
def test_a_regrade_beside_gradescope_then_after_a_tolerance_change(tmp_path):
    export, out = tmp_path / "export", tmp_path / "out"
    make_export(export)
    assert "4 submissions: 4 graded now" in batch(ROOT, export, out)

    lines = read(out / "grades.csv")
    assert_formula_safe(lines)
    assert [(r["submission_id"], r["name"]) for r in lines] == [
        ("101", "Zoë Çelik"),
        ("101", "'@Grace O'Hara"),
        ("102", """'=HYPERLINK("http://x", "<b>陈</b>")"""),
        ("103", "Ada Lovelace"),
        ("104", "Alan Turing"),
    ]
    assert (lines[0]["sid"], lines[0]["attempts"], lines[0]["submitters"], lines[2]["sid"]) == ("'=1+1", "2", "2", "-3")
    rows = {r["submission_id"]: r for r in lines}
    assert {i: (r["total"], r["gradescope_score"]) for i, r in rows.items()} == {
        "101": ("15", "15"),
        "102": ("15", "15"),
        "103": ("11", "11"),
        "104": ("13", "15"),
    }
    # Local numbers equal Gradescope's, test by test, except where Gradescope's came from another grading.
    assert [i for i, r in rows.items() if r["differs_from_gradescope"]] == ["104"]
    assert rows["104"]["differs_from_gradescope"] == "total: Gradescope 15, here 13"
    assert [i for i, r in rows.items() if "differs_from_gradescope" in r["flags"]] == ["104"]
    changes = read(out / "changes.csv")
    assert [(c["submission_id"], c["what"], c["compared_with"], c["before"], c["now"]) for c in changes] == [
        ("104", "total", "Gradescope", "15", "13")
    ]
    feedback = (out / "submission_104" / "feedback.html").read_text()
    assert "The student saw Gradescope's result: 15 / 15</b>, which <b>differs from this regrade</b>" in feedback
    assert "which agrees with this regrade" in (out / "submission_103" / "feedback.html").read_text()

    # Exercise 3: anonymous, identical answers grouped, the empty one apart, every submission once.
    answers = read(out / "answers.csv")
    assert_formula_safe(answers)
    assert sorted(a["submission_id"] for a in answers) == ["101", "102", "103", "104"]
    by_id = {a["submission_id"]: a for a in answers}
    assert by_id["101"]["group"] == by_id["102"]["group"] == "A1" and by_id["101"]["group_size"] == "2"
    assert (by_id["101"]["words"], by_id["103"]["status"]) == ("4", "empty")
    assert all(a["score"] == a["comment"] == "" for a in answers)
    page = (out / "answers.html").read_text() + (out / "answers.csv").read_text(encoding="utf-8-sig")
    assert not any(name in page for name in ("Zoë", "Grace", "Ada", "Alan", "陈", "zoe@uw.edu", "1815"))
    assert "<b>3</b> answered (2 different answers), <b>1</b> empty" in page

    # Causes: each failure once; per rubric line the counts add up to its failures.
    report = (out / "report.html").read_text()
    for heading, table in re.findall(r"<h3>([\d.]+) [^<]*: \d+ failed</h3><table>(.*?)</table>", report):
        failed = int(re.search(rf"<h3>{re.escape(heading)} [^<]*: (\d+) failed", report).group(1))
        assert sum(int(n) for n in re.findall(r"<tr><td class=num>(\d+)</td>", table)) == failed, heading
    assert re.search(r"<h3>5\.1 [^<]*: 1 failed</h3>.*?<td class=num>1</td><td><code>MSE too high</code>", report)
    assert "answered 3, empty 1" in report

    # The rubric changes: 5.1's threshold 0.01 -> 0.2. Only 103 (MSE about 0.18) changes, and is listed.
    printed = batch(grader_copy(tmp_path, "0.2"), export, out)
    assert "4 graded now" in printed
    changes = read(out / "changes.csv")
    assert_formula_safe(changes)
    runs = [
        (c["submission_id"], c["what"], c["before"], c["now"]) for c in changes if c["compared_with"] != "Gradescope"
    ]
    assert runs == [("103", "test 5.1", "0", "4"), ("103", "total", "11", "15")], changes
    assert {c["submission_id"] for c in changes if c["compared_with"] == "Gradescope"} == {"103", "104"}
    assert "<h2>Changes (5)</h2>" in (out / "report.html").read_text()
    old_threshold = re.compile(r"(?<![\d.])0\.01(?!\d)")
    read_by_staff = [(out / name).read_text(encoding="utf-8-sig") for name in ("report.html", "grades.csv")]
    for folder in out.glob("submission_*"):  # the grader's words, not the student's (the notebook, Exercise 3)
        page = (folder / "feedback.html").read_text().split("<h2>The graded notebook")[0]
        read_by_staff.append(re.sub(r'<div class="test[^"]*"><h3>3 .*?</div>', "", page, flags=re.S))
        tests = json.loads((folder / "results.json").read_text())["tests"]
        read_by_staff += [t["name"] + (t["output"] if t["number"] != "3" else "") for t in tests]
    assert not [text for text in read_by_staff if old_threshold.search(text)]
    assert "below 0.2 " in (out / "submission_103" / "results.json").read_text()
    assert len(list((out / "runs").iterdir())) == 3  # both grader versions' results kept, and their order


def own_processes(text: str) -> list:
    """Processes whose command line holds `text`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if text.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


@pytest.mark.slow(6)
def test_closing_the_terminal_stops_the_batch_clean(tmp_path):
    export = tmp_path / "a0-sighup-export"
    save(insert_cells(solution(), "import time\ntime.sleep(300)"), export / "submission_1")
    marker = f"marker-{os.getpid()}-{time.time_ns()}.txt"  # tells this batch's unpacked export from others'
    write(export / "submission_1", marker, "")
    archive = shutil.make_archive(str(tmp_path / "submissions"), "zip", export)
    out = tmp_path / "out"
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "A0_SANDBOX_PREFIX": sandbox_user(), **DEVELOPMENT}
    batch_process = subprocess.Popen(
        [sys.executable, "-m", "grader.batch", archive, str(out), "--jobs", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # like a terminal's session: its leader gets the SIGHUP
    )
    user = f"{sandbox_user()}-1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the notebook runs (as the sandbox user when root)
        try:
            running = processes_of(pwd.getpwnam(user).pw_uid) if os.geteuid() == 0 else own_processes(str(out))
        except KeyError:
            running = []
        if running and (out / "submission_1" / "log.txt").exists():
            assert list(Path(tempfile.gettempdir()).glob(f"a0-export-*/submission_1/{marker}"))  # unpacked here
            break
        time.sleep(0.5)
    else:
        batch_process.kill()
        pytest.fail("the grading never started")
    time.sleep(2)
    batch_process.send_signal(signal.SIGHUP)
    _, stderr = batch_process.communicate(timeout=120)
    assert batch_process.returncode == 128 + signal.SIGHUP, stderr[-2000:]
    assert "stopped (SIGHUP)" in stderr
    assert own_processes(str(out)) == [] and own_processes(archive) == []
    if os.geteuid() == 0:
        assert processes_of(pwd.getpwnam(user).pw_uid) == []
    assert list(Path(tempfile.gettempdir()).glob(f"a0-export-*/submission_1/{marker}")) == []  # the export removed
    assert not (out / "submission_1" / "results.json").exists()  # resumed next time, not kept as "interrupted"


def test_metadata_is_bounded_inert_text(tmp_path, monkeypatch, capsys):
    from grader import batch as batch_module

    write(
        tmp_path, "submission_metadata.yml", "a: &a [1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
    )
    monkeypatch.setattr(batch_module, "METADATA_NODES", 50)  # the aliases make 73 nodes of 17 written
    assert batch_module.read_metadata(tmp_path) == {} and "too large or too deep" in capsys.readouterr().err
    names = '"\\u202eevil\\x1b[2J\\u0007 name ' + "x" * 400 + '"'
    write(
        tmp_path,
        "submission_metadata.yml",
        f"../../etc:\n  :score: 3\nsubmission_5:\n  :submitters:\n  - :name: {names}\n  :score: .nan\n",
    )
    found = batch_module.read_metadata(tmp_path)
    assert list(found) == ["submission_5"]  # a key that is no submission folder's name is dropped
    name = found["submission_5"]["names"]
    assert name.startswith("evil[2J name xxx") and len(name) == batch_module.TEXT and name.endswith("…")
    assert found["submission_5"]["gradescope_score"] == ""  # not a number a spreadsheet could show


def test_a_knock_on_failure_counts_under_its_first_cause_and_exercise_5_by_kind():
    from assignments.a0.staff import cause
    from grader.report.flags import first_cause

    tests = {
        "1.1": {"number": "1.1", "output": "`forward` is not defined when the notebook has finished running."},
        "1.2": {"number": "1.2", "output": "Same cause as test 1.1: `forward` is not defined."},
    }
    assert first_cause(tests["1.2"], tests, "1.2") == "test 1.1 failed first: " + tests["1.1"]["output"]
    kinds = {
        "Cell 12, which trains `model` (Exercise 5), did not finish: it raised `ZeroDivisionError`": "crashed",
        "Cell 12, which trains `model` (Exercise 5), did not finish: it raised `Timeout`: the cell time limit": (
            "timed out"
        ),
        "Cell 12, which trains `model` (Exercise 5), did not finish: it raised `MemoryError`": "out of memory",
        "The MSE of your trained `model` on the toy data is 0.3 (it must be below 0.01).": "MSE too high",
        "The notebook's final `model` is not defined.": "not the trained model",
    }
    for output, kind in kinds.items():
        assert first_cause({"number": "5.1", "output": output}, {}, "5.1", cause) == kind, output
