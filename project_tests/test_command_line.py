"""The command line refuses mistakes (exit 2, nothing graded), and its table is readable and safe."""

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import pytest
from conftest import FULL_MARKS, ROOT, RUN_AUTOGRADER, processes_of, sandbox_user, save, solution

from grader.sandbox import cleanup
from grader.sandbox.lease import system_user
from grader.terminal import clean, print_table

FULL_MARKS_SCRIPT = ROOT / "tools" / "full_marks.py"


def run(*args, cwd=None, timeout=300):
    return subprocess.run(
        [str(RUN_AUTOGRADER), "--sandbox-user", sandbox_user(), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def refused(done, *words):
    assert done.returncode == 2, done.stdout + done.stderr
    assert "usage: run_autograder" in done.stderr
    for word in words:
        assert word in done.stderr, done.stderr
    assert "[sandbox]" not in done.stdout  # nothing was graded


def test_no_submission_outside_gradescopes_layout_is_a_usage_error(tmp_path):
    refused(run(cwd=tmp_path), "--submission PATH is required")
    assert list(tmp_path.iterdir()) == []


def test_a_submission_that_does_not_exist_is_named(tmp_path):
    refused(
        run("--submission", tmp_path / "A0-typo.ipynb", "--results", tmp_path / "r.json"),
        f"{tmp_path / 'A0-typo.ipynb'}: no such file or folder",
    )
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    "layout", [["submission_metadata.yml", "submission_1/A0.ipynb"], ["submission_1/A0.ipynb", "submission_2/A0.ipynb"]]
)
def test_a_gradescope_export_is_refused_with_a_pointer_to_make_batch(tmp_path, layout):
    export = tmp_path / "export"
    for name in layout:
        (export / name).parent.mkdir(parents=True, exist_ok=True)
        (export / name).write_text("{}")
    refused(run("--submission", export, "--results", tmp_path / "r.json"), "Gradescope export", "make batch")


def test_nothing_is_written_under_autograder_outside_its_layout(tmp_path):
    notebook = tmp_path / "A0.ipynb"
    notebook.write_text("{}")
    refused(
        run("--submission", notebook, "--results", "/autograder/results/results.json"),
        "refusing to write under /autograder",
    )
    assert not Path("/autograder/results/results.json").exists() or Path("/autograder/source/grader").is_dir()


def test_bad_numbers_are_refused(tmp_path):
    notebook = tmp_path / "A0.ipynb"
    notebook.write_text("{}")
    refused(run("--submission", notebook, "--cell-timeout", "0"), "--cell-timeout", "must be above 0")
    refused(run("--submission", notebook, "--memory-mb", "lots"), "--memory-mb")


def test_help_shows_every_default_and_unit():
    done = run("--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())  # argparse wraps lines
    for option, shown in [
        ("--cell-timeout", "seconds one cell may run before it is interrupted (default: 300.0)"),
        ("--timeout", "(default: 420.0)"),
        ("--probe-timeout", "(default: 30.0)"),
        ("--memory-mb", "in MiB (default: 2048)"),
        ("--cpu-seconds", "in seconds (default: 600)"),
        ("--max-processes", "(default: 64)"),
        ("--file-mb", "in MiB (default: 64)"),
        ("--sandbox-user", "default: lease a free one of a0sandbox"),
        ("--results", "out/<submission name>/results.json"),
    ]:
        assert option in text and shown in text, (option, shown)
    assert "--gradescope-root" not in text


def test_without_results_it_writes_under_out_and_the_table_names_the_notebook_and_failing_cells(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import torch"),
        nbformat.v4.new_code_cell("def forward(x):\n    return torch.sigmoid(torch.relu(x @ W1 + B1) @ W2 + B2)"),
        nbformat.v4.new_code_cell('raise ValueError("\\x1b[2J\\x1b]0;pwned\\x07cleared your screen")'),
    ]
    save(nb, tmp_path / "work", "Mine.ipynb")
    done = run("--submission", "work", "--no-notebook-output", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "work" / "results.json").read_text())
    assert results["extra_data"]["failed_cells"] == [3]
    assert "notebook: Mine.ipynb" in done.stdout
    assert "failed cells: cell 3" in done.stdout
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout


def test_the_table_strips_escape_codes_and_tolerates_missing_facts():
    hostile = "\x1b[2J\x1b]0;title\x07ok\rfake\x00 \u202eline"
    results = {
        "score": 0,
        "tests": [{"number": "1.1\x1b[1A", "score": 0, "max_score": 1, "status": "failed", "output": hostile}],
        "extra_data": {"notebook": "A0\n\x1b[31m.ipynb", "failed_cells": [2, 5], "problem": hostile},
    }
    shown = []
    for data in (results, {"tests": []}, {"tests": [], "extra_data": {"notebook": None, "problem": None}}):
        out = io.StringIO()
        with redirect_stdout(out):
            print_table(data, "r.json")
        shown.append(out.getvalue())
        assert not any(ord(c) < 32 and c != "\n" or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in out.getvalue())
    assert "notebook: A0 .ipynb" in shown[0] and "failed cells: cell 2, cell 5" in shown[0]
    assert "notebook: (none found)" in shown[1] and "notebook: (none found)" in shown[2]
    assert clean(hostile) == "okfake line"


def test_the_table_names_the_cell_that_should_have_defined_a_missing_name():
    cause = "Cell 33, which defines `forward`, raised `SyntaxError: incomplete input` (cell 33, line 2)."
    missing = "`forward` is not defined when the notebook has finished running."
    output = f"{missing}\n\n{cause} The cell ends in the middle of a statement.\n\n```\n  File \"cell 33\"\n```"
    tests = [
        {"number": "1.1", "score": 0, "max_score": 1, "status": "failed", "output": output},
        {
            "number": "1.2",
            "score": 0,
            "max_score": 2,
            "status": "failed",
            "output": f"Same cause as test 1.1: {missing}",
        },
    ]
    shown = io.StringIO()
    with redirect_stdout(shown):
        print_table({"score": 0, "tests": tests}, "r.json")
    lines = shown.getvalue().splitlines()
    assert f"XX 1.1       0/1  {missing} {cause}" in lines, lines
    assert f"XX 1.2       0/2  Same cause as test 1.1: {missing}" in lines, lines


def test_the_full_marks_check_of_make_run(tmp_path):
    def verdict(score, tests):
        path = tmp_path / "results.json"
        path.write_text(json.dumps({"score": score, "tests": tests}))
        return subprocess.run([sys.executable, str(FULL_MARKS_SCRIPT), str(path)], capture_output=True, text=True)

    full = [{"score": 1, "max_score": 1}, {"score": 2, "max_score": 2}, {"score": 0, "max_score": 0}]
    assert verdict(3, full).returncode == 0
    short = verdict(2, [{"score": 1, "max_score": 1}, {"score": 1, "max_score": 2}])
    assert short.returncode == 1 and "2/3, not full marks" in short.stderr
    assert verdict(0, []).returncode == 1  # no tests at all is not a pass


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the notebook runs as the sandbox user")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_grading_removes_its_copy_and_processes_and_says_so(tmp_path, sig):
    """Ctrl-C or SIGTERM while the notebook runs: the scratch copy and the notebook's processes go, and
    results.json says the grading was interrupted."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(600)")])
    submission = save(nb, tmp_path / "submission")
    scratch_parent = Path(tempfile.mkdtemp(prefix="a0-interrupt-", dir="/tmp"))  # the sandbox user must enter it
    scratch_parent.chmod(0o755)
    uid = system_user(sandbox_user()).pw_uid
    command = [str(RUN_AUTOGRADER), "--sandbox-user", sandbox_user(), "--submission", str(submission)]
    command += ["--results", str(tmp_path / "results.json"), "--quiet"]
    env = {**os.environ, "TMPDIR": str(scratch_parent)}
    grading = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (list(scratch_parent.iterdir()) and processes_of(uid)):
            time.sleep(0.1)
        assert processes_of(uid), "the notebook never started"
        grading.send_signal(sig)
        stdout, stderr = grading.communicate(timeout=60)
        assert grading.returncode == 130, stdout[-2000:] + stderr[-2000:]
        assert "interrupted; the sandbox was cleaned up" in stderr
        results = json.loads((tmp_path / "results.json").read_text())
        assert results["score"] == 0 and "Grading was interrupted" in results["output"]
        assert list(scratch_parent.iterdir()) == [] and processes_of(uid) == []
    finally:
        grading.kill()
        grading.wait()
        cleanup.kill_user(uid)
        cleanup.remove_tree(scratch_parent)


def test_every_declared_setting_is_an_option_in_its_unit():
    from grader.__main__ import parse
    from grader.settings import MIB, Settings, _declared, from_options

    text = " ".join(run("--help").stdout.split())
    for _, declared in _declared():
        assert declared.metadata["flag"] in text and declared.metadata["help"].split(" (")[0] in text, declared.name
    notebook = ROOT / "solution" / "A0.ipynb"
    settings = from_options(parse(["--submission", str(notebook), "--memory-mb", "1000", "--open-files", "99"]))
    assert settings.limits.memory_bytes == 1000 * MIB and settings.limits.open_files == 99
    assert settings.cell_timeout == Settings().cell_timeout and settings.limits.file_bytes == 64 * MIB


def test_the_settings_without_an_option_are_listed_in_help():
    from grader.settings import Limits, Settings, fields

    text = " ".join(run("--help").stdout.split())
    assert "fixed settings (grader/settings.py):" in text
    for declared in (*fields(Settings), *fields(Limits)):
        if "help" in declared.metadata and not declared.metadata["flag"]:
            assert f"{declared.name} = " in text and declared.metadata["help"] in text, declared.name


def test_the_notebook_size_limit_reaches_the_child(tmp_path):
    nb = nbformat.read(ROOT / "solution" / "A0.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("x" * (2 * 1024 * 1024)))
    folder = tmp_path / "submission"
    folder.mkdir()
    save(nb, folder)
    done = run("--submission", folder, "--results", tmp_path / "results.json", "--notebook-mb", "1", "--quiet")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["score"] == 0
    assert "`A0.ipynb` is 2 MB, too large to grade (the limit is 1 MB)" in results["output"]


def test_results_written_straight_into_the_temporary_folder_still_grade(tmp_path):
    """`--results /tmp/r.json`: the results' folder is hidden from the child, but never the folder its copy is in."""
    save(solution(), tmp_path / "work")
    results = Path(tempfile.gettempdir()) / f"a0-results-{os.getpid()}-{time.monotonic_ns()}.json"
    try:
        done = run("--submission", tmp_path / "work", "--results", results, "--no-notebook-output")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert json.loads(results.read_text())["score"] == FULL_MARKS, done.stdout[-3000:]
        assert "answer to test 3, graded by hand: Yes" in done.stdout  # the TA reads it in the table
    finally:
        results.unlink(missing_ok=True)
