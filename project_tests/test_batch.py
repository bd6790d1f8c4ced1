"""Batch regrading of a Gradescope "Download Submissions" export, through `python -m grader.batch`."""

import csv
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import DEVELOPMENT, FULL_MARKS, ROOT, SOURCE, TRAINING, edit_cell, sandbox_user, save, solution
from test_grading import MUTANTS, SEQUENTIAL_MODEL

from assignments.a0.rubric import RUBRIC
from grader import batch

METADATA = """\
---
submission_101:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1815'
    :email: ada@uw.edu
  :created_at: 2025-01-10 09:30:00.000000000 -08:00
  :score: !ruby/object:BigDecimal 18:0.15e2
submission_102:
  :submitters:
  - :name: Alan Turing
    :email: alan@uw.edu
  - :name: Grace Hopper
    :email: grace@uw.edu
  :score: 12.0
submission_103:
  :submitters:
  - :name: Edsger Dijkstra
submission_201:
  :created_at: 2025-01-11 10:00:00.000000000 -08:00
submission_999:
  :submitters:
  - :name: No Files
    :email: nofiles@uw.edu
"""


def mutant(line: str):
    cell, old, new, sequential = MUTANTS[line]
    nb = edit_cell(solution(), cell, old, new)
    return edit_cell(nb, TRAINING, SEQUENTIAL_MODEL[1], SEQUENTIAL_MODEL[0]) if sequential else nb


def write(folder: Path, name: str, content) -> Path:
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def make_export(root: Path) -> dict:
    """A class of 20 submission folders (and one metadata entry without a folder). Returns the expected
    total of each folder, or the words its problem must contain."""
    export = root / "export"
    write(export, "submission_metadata.yml", METADATA)
    expected = {}
    for sub_id in ("101", "102", "103"):  # correct
        expected[sub_id] = FULL_MARKS
    save(solution(), export / "submission_101")
    save(solution(), export / "submission_102" / "work", "my A0 (1).ipynb")
    save(solution(), export / "submission_103")
    save(nbformat.v4.new_notebook(), export / "submission_103", "scratch.ipynb")
    for sub_id, line in zip(("201", "202", "203"), ("1.2", "4.2", "5.1")):  # wrong
        save(mutant(line), export / f"submission_{sub_id}")
        expected[sub_id] = FULL_MARKS - RUBRIC[line].points
    shutil.copytree(SOURCE.parent, export / "submission_205")  # the template, untouched
    expected["205"] = 0
    exits = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os\nos._exit(3)")])
    save(exits, export / "submission_206")
    expected["206"] = "exit code 3"
    broken = {  # files of the submission -> words of the problem
        "301": ({}, "no files at all"),
        "302": ({"A0.ipynb": "this is not JSON"}, "is not JSON"),
        "303": ({"a0.py": "print('hi')"}, "has a `.py` file but no notebook"),
        "304": ({"A0.ipynb": '{"cells": []}'}, "no `nbformat` field"),
        "305": ({"notes.txt": "done!", "plot.png": b"\x89PNG\r\n"}, "`notes.txt`, `plot.png`"),
        "306": ({"A0.ipynb": b"\xff\xfe\x00garbage"}, "not a text file in UTF-8"),
        "307": ({"A0.ipynb": ""}, "is not JSON"),
        "308": ({"A0.zip": b"PK\x05\x06" + b"\0" * 18}, "No Jupyter notebook"),
        "309": ({"report.pdf": b"%PDF-1.4"}, "No Jupyter notebook"),
        "310": (
            {},
            "grader crashed (exit 1): run_autograder: cannot write results",
        ),  # see test_batch_grades_a_class_and_resumes
        "311": ({"__MACOSX/._A0.ipynb": b"\x00\x05\x16\x07"}, "no files at all"),
        "312": ({".A0.ipynb": "{}"}, "it has `.A0.ipynb`"),
    }
    for sub_id, (files, words) in broken.items():
        (export / f"submission_{sub_id}").mkdir()
        for name, content in files.items():
            write(export / f"submission_{sub_id}", name, content)
        expected[sub_id] = words
    return expected


def start_batch(
    export: Path, out: Path, timeout: float = 300, options=(), jobs=2, grader: Path = ROOT
) -> subprocess.CompletedProcess:
    """`python -m grader.batch` of the checkout `grader` (this one, or a copy). `jobs=1` where the batch's parallel
    slots are not what a test checks: one warm start (about 4 CPU-s) less."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "A0_SANDBOX_PREFIX": sandbox_user(), **DEVELOPMENT}
    return subprocess.run(
        [sys.executable, "-m", "grader.batch", str(export), str(out), "--jobs", str(jobs), *options],
        cwd=grader,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_batch(export: Path, out: Path, jobs=2) -> str:
    done = start_batch(export, out, jobs=jobs)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "grading" in done.stderr  # the progress bar
    return done.stdout


def read_csv(out: Path) -> dict:
    """{submission id: its row}; a group's rows are joined back into one, names and emails as "a; b"."""
    with open(out / "grades.csv", newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == batch.COLUMNS
    joined = {}
    for row in rows:
        first = joined.setdefault(row["submission_id"], {**row, "names": "", "emails": "", "sids": ""})
        for field in ("name", "email", "sid"):
            first[field + "s"] = "; ".join(filter(None, [first[field + "s"], row[field]]))
    return joined


@pytest.mark.slow(30)
def test_batch_grades_a_class_and_resumes(tmp_path):
    expected = make_export(tmp_path)
    out = tmp_path / "out"
    # A grading subprocess that fails: its results.json cannot be written (a folder is in the way).
    (out / "submission_310" / "results.json").mkdir(parents=True)

    printed = run_batch(tmp_path / "export", out)
    assert "21 submissions: 20 graded now, 0 already graded, 1 without folder; 14 with problems" in printed
    rows = read_csv(out)
    assert sorted(rows) == sorted([*expected, "999"])
    for sub_id, want in expected.items():
        row = rows[sub_id]
        if isinstance(want, int):
            assert (row["total"], row["problems"]) == (f"{want:g}", ""), (sub_id, row)
            assert float(row["seconds"]) > 0
            results = json.loads((out / f"submission_{sub_id}" / "results.json").read_text())
            assert {t["number"]: f"{t['score']:g}" for t in results["tests"]} == {n: row[n] for n in RUBRIC}
        else:
            assert want in row["problems"], (sub_id, row)
    assert rows["205"]["1.1"] == "0" and rows["201"]["1.2"] == "0" and rows["201"]["1.1"] == "1"
    for sub_id in ("101", "201", "205"):  # each job slot's grader.serve forked them from its warm start
        assert "; forked by the warm start; " in (out / f"submission_{sub_id}" / "log.txt").read_text()
    assert rows["301"]["total"] == "0" and rows["310"]["total"] == ""
    assert (rows["101"]["names"], rows["101"]["emails"], rows["101"]["sids"]) == ("Ada Lovelace", "ada@uw.edu", "1815")
    assert rows["101"]["created_at"].startswith("2025-01-10 09:30:00") and rows["101"]["gradescope_score"] == "15"
    assert (rows["102"]["names"], rows["102"]["emails"], rows["102"]["sids"]) == (
        "Alan Turing; Grace Hopper",
        "alan@uw.edu; grace@uw.edu",
        "",
    )
    assert (rows["103"]["names"], rows["103"]["emails"], rows["103"]["gradescope_score"]) == ("Edsger Dijkstra", "", "")
    assert rows["201"]["names"] == "" and rows["201"]["created_at"].startswith("2025-01-11")
    assert rows["301"]["names"] == ""  # not in the metadata at all
    assert rows["999"]["names"] == "No Files" and "no folder" in rows["999"]["problems"]

    # Resume: what is graded stays graded; the failed one is tried again, and now succeeds.
    (out / "submission_310" / "results.json").rmdir()
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("submission_*/results.json")}
    printed = run_batch(tmp_path / "export", out)
    assert "21 submissions: 1 graded now, 19 already graded, 1 without folder; 14 with problems" in printed
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}
    rows_again = read_csv(out)
    assert rows_again["310"]["total"] == "0" and "no files at all" in rows_again["310"]["problems"]
    assert {k: v for k, v in rows_again.items() if k != "310"} == {k: v for k, v in rows.items() if k != "310"}


@pytest.mark.slow(11)
def test_batch_reads_the_zip_gradescope_gives(tmp_path):
    export = tmp_path / "assignment_42_export"  # the zip holds this folder, not its contents
    save(solution(), export / "submission_7")
    write(export / "submission_8", "A0.py", "print('hi')")
    (export / "submission_9").mkdir(parents=True)
    write(export, "submission_metadata.yml", "submission_7:\n  :submitters:\n  - :name: Zed\n    :email: z@uw.edu\n")
    archive = shutil.make_archive(str(tmp_path / "submissions"), "zip", tmp_path, export.name)
    shutil.rmtree(export)

    with batch.lock(sandbox_user()):  # another batch with the same sandbox users is running
        refused = start_batch(Path(archive), tmp_path / "out")
    assert refused.returncode == 1 and "another batch is running" in refused.stderr
    assert not (tmp_path / "out").exists()

    printed = run_batch(Path(archive), tmp_path / "out", jobs=1)  # reading the zip, not the slots, is checked
    assert "3 submissions: 3 graded now" in printed
    rows = read_csv(tmp_path / "out")
    assert (rows["7"]["names"], rows["7"]["total"], rows["7"]["problems"]) == ("Zed", f"{FULL_MARKS:g}", "")
    assert "`.py` file" in rows["8"]["problems"] and "no files at all" in rows["9"]["problems"]
    assert (tmp_path / "out" / "submission_7" / "results.json").is_file()


def test_a_grading_that_hangs_is_killed_and_reported(tmp_path, monkeypatch):
    """The grader stops a slow notebook by itself (--timeout); this is the backstop when the grader hangs."""
    monkeypatch.setattr(batch, "GRACE", 1.0)
    hang = (sys.executable, "-c", "import time; time.sleep(60)")
    started = time.monotonic()
    seconds, problem = batch.grade_one(tmp_path, tmp_path / "out", sandbox_user() + "-hang", 1.0, {}, hang)
    assert time.monotonic() - started < 20
    assert problem == "grading timed out after 2 s and was killed"
    row = batch.row("submission_1", {}, batch.valid_results(tmp_path / "out" / "results.json"), seconds, problem)
    assert row["total"] == "" and row["problems"] == problem and float(row["seconds"]) >= 1


@pytest.mark.skipif(os.geteuid() != 0, reason="only root leases sandbox users")
def test_every_slots_sandbox_user_exists_before_the_first_notebook_runs(tmp_path, monkeypatch):
    """A useradd while a notebook runs replaces /etc/passwd, which the confined child can then no longer read (its
    `pwd.getpwuid` fails): the batch makes its job slots' users before it starts any grading."""
    prefix = sandbox_user() + "-slots"
    for sub_id in ("1", "2", "3"):
        save(solution(), tmp_path / "export" / f"submission_{sub_id}")
    seen = []

    def grade_one(folder, out, user, *args, **kwargs):
        seen.append({name: _exists(name) for name in (f"{prefix}-1", f"{prefix}-2", f"{prefix}-3")})
        return 0.1, "not graded in this test"

    monkeypatch.setattr(batch, "grade_one", grade_one)
    try:
        batch._run(tmp_path / "export", tmp_path / "out", 2, 60, prefix, False, None, False, tmp_path / "unpacked")
        assert seen and all(s == {f"{prefix}-1": True, f"{prefix}-2": True, f"{prefix}-3": False} for s in seen), seen
    finally:
        for name in (f"{prefix}-1", f"{prefix}-2"):
            subprocess.run(["userdel", name], capture_output=True, timeout=60)


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
