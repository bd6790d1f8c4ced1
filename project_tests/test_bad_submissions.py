"""Bad submissions: each gives a valid results.json whose message tells the student what to fix, or is
graded normally where that is possible; never a crash, never a hang."""

import base64
import json
import os
import time

import nbformat
import pytest
from conftest import FULL_MARKS, SOLUTION, SOURCE, code_cells, grade, output_of, save, solution

from assignments.a0.rubric import RUBRIC

TIMEOUT = 120  # for run_autograder as a whole: a bad submission must never hang it


def grade_folder(folder, tmp_path, timeout=TIMEOUT):
    return grade(folder, tmp_path / "results" / "results.json", "--cell-timeout", "60", timeout=timeout)


def assert_not_graded(results, message: str):
    """Score 0, every rubric line present, and the message both at the top and in each test."""
    assert results["score"] == 0
    assert sorted(t["number"] for t in results["tests"]) == sorted(RUBRIC)
    assert message in results["output"]
    assert all(message in t["output"] for t in results["tests"])
    assert "The autograder itself failed" not in results["output"]


@pytest.mark.parametrize(
    "files, message",
    [
        ({}, "No Jupyter notebook (`.ipynb`) was found in your submission (it has no files at all)"),
        ({"notes.txt": "hello"}, "No Jupyter notebook (`.ipynb`) was found in your submission (it has `notes.txt`)"),
        ({"a0.py": "import torch"}, "Your submission has a `.py` file but no notebook"),
    ],
)
def test_a_submission_without_a_notebook_says_what_to_upload(files, message, tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    assert_not_graded(grade_folder(folder, tmp_path), message)


def test_a_python_script_given_as_the_submission_says_to_upload_the_notebook(tmp_path):
    script = tmp_path / "submission" / "A0.py"
    script.parent.mkdir()
    script.write_text("import torch\n")
    assert_not_graded(grade_folder(script, tmp_path), "Your submission has a `.py` file but no notebook")


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"cells": [', "`A0.ipynb` is not a valid notebook: it is not JSON (line 1, column 12"),
        ("caf\u00e9".encode("latin-1"), "`A0.ipynb` is not a text file in UTF-8 (byte 3 cannot be read)"),
        (b'{"hello": "world"}', "`A0.ipynb` is JSON but not a Jupyter notebook"),
        (b"[" * 100_000 + b"]" * 100_000, "`A0.ipynb` is not a valid notebook: its JSON is nested too deeply"),
        (b'{"nbformat": 4, "cells": "none"}', "`A0.ipynb` could not be read as a Jupyter notebook"),
    ],
)
def test_a_file_that_is_not_a_notebook_is_explained(content, message, tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "A0.ipynb").write_bytes(content)
    assert_not_graded(grade_folder(folder, tmp_path), message)


def test_a_markdown_cell_without_source_does_not_break_reading(grade_notebook):
    nb = nbformat.read(SOURCE, as_version=4)
    question = next(i for i, c in enumerate(nb.cells) if "could loss ever increase" in c.source.lower())
    nb.cells[question + 1].pop("source")  # a hand-edited notebook
    results = grade_notebook(nb)
    assert results["score"] == 0
    assert "Cell 33, which defines `forward`, raised `SyntaxError: incomplete input" in output_of(results, "1.1")


def test_several_notebooks_grade_the_expected_one_and_name_the_others(tmp_path):
    folder = tmp_path / "submission"
    save(solution(), folder, "A0.ipynb")
    save(nbformat.read(SOURCE, as_version=4), folder, "scratch.ipynb")
    save(nbformat.read(SOURCE, as_version=4), folder / "old", "A0.ipynb")
    results = grade_folder(folder, tmp_path)
    assert results["score"] == FULL_MARKS
    assert (
        "`A0.ipynb` was graded because it has the expected name `A0.ipynb` (3 notebooks were found)"
        in results["output"]
    )
    assert "Other notebooks not graded: `scratch.ipynb`, `old/A0.ipynb`." in results["output"]


def test_an_nbformat_3_notebook_is_graded_normally(tmp_path):
    nb = nbformat.read(SOURCE, as_version=4)
    for cell in nb.cells:
        cell.pop("id", None)
    nb.nbformat_minor = 0
    path = save(nb, tmp_path / "submission", version=3)
    assert nbformat.read(str(path), as_version=nbformat.NO_CONVERT).nbformat == 3
    results = grade_folder(path.parent, tmp_path)
    assert results["score"] == 0  # the template, graded like the nbformat 4 one
    assert "Cell 33, which defines `forward`, raised `SyntaxError: incomplete input" in output_of(results, "1.1")


def test_a_link_to_a_file_outside_the_submission_is_not_followed(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    os.symlink(SOLUTION, folder / "A0.ipynb")  # the course's solution, if the grader followed links
    results = grade_folder(folder, tmp_path)
    assert_not_graded(results, "No Jupyter notebook (`.ipynb`) was found in your submission")
    assert "`A0.ipynb` is a link; it was not copied" in results["output"]


def test_a_link_beside_the_notebook_is_not_copied_for_the_notebook_to_read(tmp_path):
    nb = nbformat.read(SOURCE, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print(open('data.json').read())"))
    folder = save(nb, tmp_path / "submission").parent
    os.symlink(SOLUTION, folder / "data.json")
    results = grade_folder(folder, tmp_path)
    assert results["score"] == 0
    last = len(code_cells(nb))
    assert f"- cell {last} (`print(open('data.json').read())`): `FileNotFoundError" in results["output"]
    assert "`data.json` is a link; it was not copied." in results["output"]
    assert "z1_grad" not in json.dumps(results)


def test_an_output_of_json_nested_100_levels_is_graded_normally(tmp_path):
    """The reader refuses JSON nested deeper than about 128 levels before parsing it (test_resource_attacks); a
    notebook's own structure is under 10, so a deep honest output (a plotly or vega spec) stays well inside."""
    nb = solution()
    nested = {}
    for level in range(100):  # a list or an object at each level
        nested = [nested, level] if level % 2 else {"spec": nested, "level": level}
    code_cells(nb)[0].outputs = [nbformat.v4.new_output("display_data", {"application/json": nested})]
    results = grade_folder(save(nb, tmp_path / "submission").parent, tmp_path)
    assert results["score"] == FULL_MARKS, results["output"][:2000]


def test_a_notebook_with_50_mb_of_image_outputs_is_graded_normally(tmp_path):
    nb = solution()
    image = base64.b64encode(os.urandom(38 * 2**20)).decode()  # 50 MB once base64-encoded, like a big PNG
    code_cells(nb)[0].outputs = [nbformat.v4.new_output("display_data", {"image/png": image})]
    path = save(nb, tmp_path / "submission")
    assert path.stat().st_size > 50 * 10**6
    started = time.monotonic()
    results = grade_folder(path.parent, tmp_path)
    assert results["score"] == FULL_MARKS
    assert time.monotonic() - started < 60
    assert (tmp_path / "results" / "results.json").stat().st_size < 100_000
