"""A regrade of an export in Gradescope's layout, built around the README's sample metadata
(docs/examples/submission_metadata.yml): lateness against the due dates, attempts from `:history:`, Gradescope's
grader version compared with this checkout's, and Exercise 3's hand-graded scores back into grades.csv."""

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import FORWARD, FULL_MARKS, ROOT, edit_cell, solution
from test_batch import start_batch
from test_report import answer_cell, with_answer

SAMPLE = ROOT / "docs" / "examples" / "submission_metadata.yml"
DUE = ("--due", "2025-01-10 23:59 -08:00", "--late-due", "2025-01-12 23:59:00 -08:00")


def make_export(export: Path) -> None:
    export.mkdir(parents=True)
    shutil.copy(SAMPLE, export / "submission_metadata.yml")
    save = nbformat.write
    for sub_id, nb in {
        "101": with_answer(solution(), "Yes, with a learning rate that is too large."),
        "102": edit_cell(solution(), FORWARD, "h = z1.relu()", "h = z1.sigmoid()"),  # 13/15, an answer by print()
        "103": with_answer(solution(), "No."),
    }.items():
        if sub_id == "102":
            answer_cell(nb).source = "**Answer:**"
            at = nb.cells.index(answer_cell(nb))
            nb.cells.insert(at + 1, nbformat.v4.new_code_cell('print("It can: a large step overshoots.")'))
        (export / f"submission_{sub_id}").mkdir()
        save(nb, str(export / f"submission_{sub_id}" / "A0.ipynb"))


def grades(out: Path) -> dict:
    with open(out / "grades.csv", newline="", encoding="utf-8-sig") as f:
        return {(r["submission_id"], r["name"]): r for r in csv.DictReader(f)}


def batch(export: Path, out: Path, *options: str) -> str:
    done = start_batch(export, out, options=options, jobs=1)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow(22)
def test_an_export_in_gradescopes_layout_gives_lateness_attempts_the_version_and_the_hand_graded_scores(tmp_path):
    export, out = tmp_path / "export", tmp_path / "regrade"
    make_export(export)
    printed = batch(export, out, *DUE)
    assert "3 submissions: 3 graded now" in printed

    # Gradescope's :results: record another grader version and secret (c0ffee12): said once, before grading, with
    # the fix, and in the report.
    notice = next(line for line in printed.splitlines() if "Gradescope graded" in line)
    assert printed.count("Gradescope graded") == 1
    assert "2 of 2 submissions with grader version 0123456789abcdef (secret c0ffee12)" in notice
    assert "the course's secret differs" in notice and "make secret FROM=autograder.zip" in notice
    assert printed.index("Gradescope graded") < printed.index("3 submissions: 3 graded now")
    report = (out / "report.html").read_text()
    assert "Not the grader Gradescope ran." in report and "make secret FROM=autograder.zip" in report

    rows = grades(out)
    assert list(rows) == [
        ("101", "Ada Lovelace"),
        ("102", "Alan Turing"),
        ("102", "Grace Hopper"),
        ("103", "Edsger Dijkstra"),
    ]
    assert {key: (r["lateness"], r["attempts"], r["total"]) for key, r in rows.items()} == {
        ("101", "Ada Lovelace"): ("0", "2", f"{FULL_MARKS:g}"),  # on time, one earlier attempt
        ("102", "Alan Turing"): ("3.5", "3", f"{FULL_MARKS - 2:g}"),  # 03:29 the next morning, two earlier
        ("102", "Grace Hopper"): ("3.5", "3", f"{FULL_MARKS - 2:g}"),
        ("103", "Edsger Dijkstra"): ("60.02", "1", f"{FULL_MARKS:g}"),  # after the late due date too
    }
    assert "past_late_due" in rows["103", "Edsger Dijkstra"]["flags"]
    assert "past_late_due" not in rows["102", "Alan Turing"]["flags"]
    assert "Lateness: <b>2</b> of 3 submissions with a known time late (up to 60.02 hours; 1 after the late" in report

    # Exercise 3: the printed answer is an answer; a TA fills in answers.csv and merges it, with no grading.
    with open(out / "answers.csv", newline="", encoding="utf-8-sig") as f:
        answers = list(csv.DictReader(f))
    assert {a["submission_id"]: (a["status"], a["answer"]) for a in answers} == {
        "101": ("answered", "Yes, with a learning rate that is too large."),
        "102": ("answered", "It can: a large step overshoots."),
        "103": ("answered", "No."),
    }
    scores = {"101": ("2", "clear"), "102": ("1.5", "=why? half marks"), "103": ("", "")}
    write_answers(out, answers, scores)
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("submission_*/results.json")}
    merged = start_batch_merge(out)
    assert merged.returncode == 0, merged.stderr
    assert "2 of 3 submissions have a score graded by hand" in merged.stdout
    rows = grades(out)
    assert [(r["by_hand_score"], r["by_hand_comment"], r["total_with_by_hand"]) for r in rows.values()] == [
        ("2", "clear", f"{FULL_MARKS + 2:g}"),
        ("1.5", "'=why? half marks", f"{FULL_MARKS - 0.5:g}"),  # formula-safe
        ("1.5", "'=why? half marks", f"{FULL_MARKS - 0.5:g}"),
        ("", "", ""),
    ]
    assert "graded by hand: <b>2</b> of 3 scored, mean 1.75" in (out / "report.html").read_text()
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}  # nothing graded again

    # A rerun of the batch keeps the TA's scores (answers.csv and grades.csv); a score that is not points is
    # refused before anything is written.
    assert "3 already graded" in batch(export, out, *DUE)
    assert grades(out)["101", "Ada Lovelace"]["by_hand_score"] == "2"
    with open(out / "answers.csv", newline="", encoding="utf-8-sig") as f:
        answers = list(csv.DictReader(f))
    assert {a["submission_id"]: a["score"] for a in answers} == {"101": "2", "102": "1.5", "103": ""}
    write_answers(out, answers, {"101": ("two", "")})
    before = (out / "grades.csv").read_bytes()
    refused = start_batch_merge(out)
    assert refused.returncode == 2 and "(submission 101): score 'two'" in refused.stderr
    assert (out / "grades.csv").read_bytes() == before


def write_answers(out: Path, answers: list, scores: dict) -> None:
    for line in answers:
        line["score"], line["comment"] = scores.get(line["submission_id"], (line["score"], line["comment"]))
    with open(out / "answers.csv", "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.DictWriter(f, list(answers[0]))
        writer.writeheader()
        writer.writerows(answers)


def start_batch_merge(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader.batch", "--merge-answers", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
