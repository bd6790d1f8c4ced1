"""The README's TA sections, executed: every `make` command they give parses, every file of the checkout they name
exists, and a TA's walk (make batch on a small export in Gradescope's layout, make merge-answers, make grade) leaves
every output path they name; `make grade`'s terminal shows each flag with its evidence and 2.2's distances."""

import csv
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, SOURCE, sandbox_user, save, solution
from test_report import AUTOGRAD_BACKPROP

TA_SECTIONS = ("For TAs", "Uploading to Gradescope", "Grading one notebook locally", "Regrading a whole class")
# Named in the TA sections but not in a checkout: Gradescope's layout and image, the export's own folders
ELSEWHERE = {"source/grader", "submission/", "submission_<id>/", "gradescope/autograder-base:ubuntu-22.04"}
DUE = ['DUE=2025-01-10 23:59 -08:00', "LATE_DUE=2025-01-12 23:59 -08:00"]


def ta_text() -> str:
    parts = re.split(r"^## (.+)$", (ROOT / "README.md").read_text(), flags=re.M)
    sections = {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}
    return "".join(sections[name] for name in TA_SECTIONS)


def named_paths() -> set:
    """The paths the TA sections name in backticks (`regrade/report.html`, `out/A0-<digest of the path>/`...)."""
    found = set()
    prose = re.sub(r"```.*?```", "", ta_text(), flags=re.S)
    for token in re.findall(r"`([^`\n]+)`", prose):
        token = token.strip()
        bare = re.sub(r"<[^>]*>", "<x>", token)  # `out/A0-<digest of the path>/` is one path
        if "/" in token and not re.search(r"\s", bare) and not token.startswith(("/", "~", "./")):
            found.add(token)
    return found


def make(*args: str, env=None, timeout: float = 600) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}  # not an outer make's
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_every_make_command_the_ta_sections_give_exists_and_parses():
    text = ta_text()
    rules = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    assert set(re.findall(r"\bmake ([a-z][\w-]*)", text)) <= rules
    commands = [
        line.split("  #")[0].strip()
        for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S)
        for line in block.splitlines()
        if line.startswith("make ")
    ]
    assert len(commands) >= 8, commands
    for command in commands:
        words = [w.strip("[]") for w in shlex.split(command.split(" && ")[0])]
        dry = make("-n", *words[1:])
        assert dry.returncode == 0, (command, dry.stderr)


def test_every_file_of_the_checkout_the_ta_sections_name_exists():
    for path in named_paths():
        if path in ELSEWHERE or path.lower().startswith(("out/", "regrade/", "runs/", "path/to")):
            continue  # outputs: the walk below checks them
        assert (ROOT / path).exists(), path


def export_like_gradescopes(export: Path) -> None:
    """The README's sample metadata and three handouts (the fastest notebook to grade)."""
    export.mkdir(parents=True)
    shutil.copy(ROOT / "docs" / "examples" / "submission_metadata.yml", export / "submission_metadata.yml")
    for sub_id in ("101", "102", "103"):
        shutil.copytree(SOURCE.parent, export / f"submission_{sub_id}")


@pytest.mark.slow(22)
def test_a_tas_walk_leaves_every_path_the_readme_names(tmp_path):
    export, regrade, out = tmp_path / "export", tmp_path / "regrade", tmp_path / "out"
    export_like_gradescopes(export)
    env = {"A0_SANDBOX_PREFIX": sandbox_user() + "-walk", "A0_SANDBOX_USER": sandbox_user() + "-walk"}
    batch = make("batch", f"EXPORT={export}", f"OUT={regrade}", "JOBS=1", *DUE, env=env)  # one warm start
    assert batch.returncode == 0, batch.stdout[-3000:] + batch.stderr[-3000:]

    answers = regrade / "answers.csv"
    with open(answers, newline="", encoding="utf-8-sig") as f:
        lines = list(csv.DictReader(f))
    for line in lines:
        line["score"] = "1" if line["submission_id"] == "101" else ""
    with open(answers, "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.DictWriter(f, list(lines[0]))
        writer.writeheader()
        writer.writerows(lines)
    merged = make("merge-answers", f"OUT={regrade}")
    assert merged.returncode == 0, merged.stderr
    with open(regrade / "grades.csv", newline="", encoding="utf-8-sig") as f:
        assert {r["submission_id"]: r["by_hand_score"] for r in csv.DictReader(f)}["101"] == "1"

    nb = solution()
    next(
        c for c in nb.cells if c.cell_type == "code" and c.source.startswith("def backprop")
    ).source = AUTOGRAD_BACKPROP
    notebook = save(nb, tmp_path / "office-hours")
    graded = make("grade", f"NB={notebook}", f"OUT={out}", env=env)
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]

    checked = 0
    for path in named_paths():
        where = {"out/": out, "regrade/": regrade, "OUT/": regrade, "runs/": regrade / "runs"}
        prefix = next((p for p in where if path.startswith(p)), None)
        if prefix is None:
            continue
        # an id is what a TA types: Gradescope's submission number (OUT/<submission_id>/ once sent scripts to OUT/101/)
        pattern = re.sub(r"<(submission_)?id>", "101", path[len(prefix) :])
        pattern = re.sub(r"<[^>]+>", "*", pattern).rstrip("/")
        found = list(where[prefix].glob(pattern)) if pattern else [where[prefix]] * where[prefix].is_dir()
        assert found, f"README names {path}: nothing at {where[prefix] / pattern}"
        checked += 1
    assert checked >= 15
    folder = next(out.glob("A0-*"))
    for name in ("results.json", "feedback.html", "notebook.html"):  # "holds `results.json` ..., `feedback.html`"
        assert (folder / name).is_file() and f"`{name}`" in ta_text()

    # The terminal is enough for office hours: each flag with who saw it and its lines, 2.2 up to its numbers.
    said = graded.stdout
    assert "FLAG     autograd_in_backprop (read in the notebook's code and reported by its process)" in said
    assert re.search(r"\n {11}cell \d+, line 5: \(\(y_hat - Y\) \*\* 2\)\.sum\(\)\.backward\(\)\n", said), said
    line = next(s for s in said.splitlines() if s.startswith("ok 2.2"))
    assert re.search(
        r"`W2_grad`: distance to autograd's gradient [\d.e-]+ \(ok; allowed: below 0.0001\); `B2_grad`", line
    )
    assert "secret:   the development secret" in said or "the course's secret" in said


def test_flags_on_the_terminal_are_inert_and_bounded(capsys):
    """Evidence lines are the student's code: no escape sequence, control character or bidi override reaches the
    TA's terminal, and a flood of lines is cut."""
    from grader.terminal import print_table

    hostile = "x = 1  # \x1b]0;pwned\x07\x1b[2J\u202egnp.exe\r\n" + "y" * 5000
    facts = {
        "flags": ["autograd_in_backprop", "\x1b[31mred"],
        "flag_sources": {"autograd_in_backprop": "reader"},
        "evidence": {"autograd_in_backprop": [hostile] * 50},
        "secret": "c0ffee12",
        "grader_version": "0123456789abcdef",
    }
    print_table({"tests": [], "score": 0, "extra_data": facts}, "results.json")
    said = capsys.readouterr().out
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", said)
    assert "FLAG     autograd_in_backprop (read in the notebook's code)" in said and "\nFLAG     red\n" in said
    assert said.count("x = 1 # gnp.exe yyy") == 20 and max(len(line) for line in said.splitlines()) < 220
    assert "grader:   version 0123456789abcdef, the course's secret c0ffee12" in said
