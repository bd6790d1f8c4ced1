"""Regrade a whole class: `python -m grader.batch EXPORT OUT [--jobs N] [--timeout S]` (or `make batch`).

EXPORT is Gradescope's "Download Submissions" zip or its unpacked folder: one `submission_<id>/` folder per
submission and, optionally, `submission_metadata.yml` naming the submitters. Each submission is graded by
./run_autograder in its own subprocess, with the sandbox user of its job slot ($A0_SANDBOX_PREFIX-<slot>, by
default a0sandbox-1, a0sandbox-2...): gradings running at the same time must not share one. Writes
OUT/<id>/results.json (and log.txt, the grader's own log; feedback.html, what the student saw, and notebook.html),
then OUT/grades.csv (with flags), answers.csv and answers.html (Exercise 3) and report.html (the class). A submission
whose results.json exists, is valid and comes from this grader version is not graded again: an interrupted batch
resumes where it stopped, and a changed grader (rubric, checks) regrades everything; --force regrades all the same.
A grading that fails or hangs gets a row saying so; the batch goes on.
"""

import argparse
import concurrent.futures
import csv
import fcntl
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from functools import cache
from pathlib import Path
from typing import IO

import jsonschema
import yaml
from tqdm import tqdm

from .report import flags, pages
from .rubric import RUBRIC
from .settings import Settings
from .version import grader_version

ROOT = Path(__file__).resolve().parents[1]
RUN_AUTOGRADER = ROOT / "run_autograder"
SCHEMA = json.loads((ROOT / "grader" / "scoring" / "gradescope_schema.json").read_text())
GRACE = 120.0  # seconds a grading may take beyond its own --timeout before it is killed from outside
COLUMNS = [
    "submission_id",
    "names",
    "emails",
    "sids",
    "created_at",
    "gradescope_score",
    *RUBRIC,
    "total",
    "seconds",
    "problems",
    "flags",
    "flags_seen_by",  # parent (the grader itself), reader (the notebook's text) or runner (the notebook's report)
    "identical_to",
    "notebook",
    "first_failing_cell",
    "grader_version",
]


# -- the export
class _Loader(yaml.SafeLoader):
    """Gradescope writes the file from Ruby: tolerate its tags, e.g. `!ruby/object:BigDecimal 18:0.15e2` (15)."""


def _ruby(loader, tag, node):
    if not isinstance(node, yaml.ScalarNode):
        return None
    text = loader.construct_scalar(node)
    if tag.endswith("BigDecimal"):
        try:
            return float(text.split(":")[-1])
        except ValueError:
            pass
    return text


_Loader.add_multi_constructor("!", _ruby)


def _plain(value):
    """Ruby symbol keys (`:submitters`) become plain keys (`submitters`)."""
    if isinstance(value, dict):
        return {str(k).lstrip(":"): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def read_metadata(export: Path) -> dict:
    """{submission id: {"names", "emails", "sids", "created_at", "gradescope_score"}}; {} without a usable file."""
    path = export / "submission_metadata.yml"
    if not path.is_file():
        return {}
    try:
        data = _plain(yaml.load(path.read_text(encoding="utf-8", errors="replace"), Loader=_Loader))
    except yaml.YAMLError as error:
        print(f"batch: {path.name} could not be read ({error}); names and emails are left empty", file=sys.stderr)
        return {}
    found = {}
    for key, entry in data.items() if isinstance(data, dict) else []:
        entry = entry if isinstance(entry, dict) else {}
        people = [p for p in entry.get("submitters") or [] if isinstance(p, dict)]
        found[str(key)] = {
            field + "s": _join([str(p.get(field) or "") for p in people]) for field in ("name", "email", "sid")
        }
        found[str(key)].update(
            created_at=str(entry.get("created_at") or ""), gradescope_score=_number(entry.get("score"))
        )
    return found


def _join(values: list) -> str:
    """One value per submitter, in the same order in every column; empty when none has one."""
    return "; ".join(values) if any(values) else ""


def _number(value) -> str:
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return ""


def _export_root(folder: Path) -> Path:
    """The folder holding the `submission_*` folders: the given one, or a single folder inside it."""

    def holds(path):
        return (path / "submission_metadata.yml").is_file() or any(
            p.is_dir() and p.name.startswith("submission_") for p in path.iterdir()
        )

    if holds(folder):
        return folder
    inner = [p for p in folder.iterdir() if p.is_dir() and p.name != "__MACOSX" and holds(p)]
    return inner[0] if len(inner) == 1 else folder


# -- one submission
def valid_results(path: Path) -> dict | None:
    """The results.json at `path` if it is complete and valid (whatever its grader version), else None."""
    try:
        data = json.loads(path.read_text())
        jsonschema.validate(data, SCHEMA)
        return data if data.get("tests") else None
    except (OSError, ValueError, jsonschema.ValidationError):
        return None


def current(results) -> bool:
    """Graded by this grader version: a results.json from another one (an old rubric) is never mixed in."""
    return bool(results) and flags.facts_of(results).get("grader_version") == grader_version()


@cache
def _writes_ta_files() -> bool:
    """Whether ./run_autograder has --ta-files (notebook.html, Exercise 3 images), which came after the batch."""
    try:
        done = subprocess.run([str(RUN_AUTOGRADER), "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return "--ta-files" in done.stdout


def grade_one(
    submission: Path,
    out: Path,
    user: str,
    timeout: float,
    running: dict,
    command=(str(RUN_AUTOGRADER),),
    cell_timeout=None,
) -> tuple:
    """Grade one submission into out/results.json; returns (seconds, problem or ""). `running` tracks the
    subprocess while it runs, so an interrupted batch can stop it."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.iterdir():  # a regrading leaves only the files it writes: nothing old looks current
        if stale.is_symlink() or not stale.is_dir():
            stale.unlink(missing_ok=True)
    started = time.monotonic()
    args = [
        *command,
        "--submission",
        str(submission),
        "--results",
        str(out / "results.json"),
        "--sandbox-user",
        user,
        "--timeout",
        str(timeout),
        "--quiet",
        "--no-notebook-output",
    ]
    if cell_timeout:
        args += ["--cell-timeout", str(cell_timeout)]
    if tuple(command) == (str(RUN_AUTOGRADER),) and _writes_ta_files():
        args += ["--ta-files", str(out)]
        # the export (every student's work, the roster) and the output folder: out of the child's sight
        args += ["--hide", str(submission.absolute().parent), "--hide", str(out.absolute().parent)]
    with open(out / "log.txt", "w") as log:
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        running[proc.pid] = (proc, user)
        try:
            code = proc.wait(timeout=timeout + GRACE)
        except subprocess.TimeoutExpired:
            _kill(proc, user)
            return time.monotonic() - started, f"grading timed out after {timeout + GRACE:.0f} s and was killed"
        finally:
            running.pop(proc.pid, None)
    seconds = time.monotonic() - started
    if code != 0:
        lines = [line for line in (out / "log.txt").read_text(errors="replace").splitlines() if line.strip()]
        return seconds, f"grader crashed (exit {code}): {lines[-1][:200] if lines else 'no output'}"
    results = valid_results(out / "results.json")
    if results is None:
        return seconds, "grader crashed: it wrote no valid results.json"
    if "grader_version" not in flags.facts_of(results):
        # A grader from before the version stamp: this batch just ran it, so the stamp is the batch's own version.
        results.setdefault("extra_data", {})["grader_version"] = grader_version()
        temp = out / "results.json.tmp"
        temp.write_text(json.dumps(results))
        os.replace(temp, out / "results.json")
    return seconds, ""


def _kill(proc, user: str) -> None:
    """Stop the grader, then (as root) everything its sandbox user still runs: the child is in its own session."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    if os.geteuid() == 0:
        subprocess.run(["pkill", "-KILL", "-u", user], timeout=30, check=False)


def problems_of(results: dict) -> str:
    """What a TA should look at, from the grader's facts in results.json (extra_data)."""
    facts = results.get("extra_data", {})
    if facts.get("problem"):
        return facts["problem"]
    if facts.get("ending") and not facts.get("finished"):
        return facts["ending"]
    return ""


def row(sub_id: str, meta: dict, results, seconds=None, problem="") -> dict:
    """One line of grades.csv. `seconds`: the grader's own execution_time when there are results."""
    entry = {"submission_id": sub_id, **{c: "" for c in COLUMNS[1:]}, **meta.get(sub_id, {})}
    if results:
        facts = flags.facts_of(results)
        for column in ("notebook", "first_failing_cell", "grader_version"):
            entry[column] = "" if facts.get(column) is None else str(facts[column])
        scores = {t.get("number"): t.get("score", 0) for t in results["tests"]}
        entry.update({number: f"{scores[number]:g}" for number in RUBRIC if number in scores})
        entry["total"] = f"{results.get('score', sum(scores.values())):g}"
        seconds = results.get("execution_time", seconds)
        problem = problem or problems_of(results)
    entry["seconds"] = f"{seconds:.1f}" if seconds is not None else ""
    entry["problems"] = problem
    entry["flags"] = "; ".join(flags.flags_of(results, problem))
    entry["flags_seen_by"] = flags.seen_by_of(results, flags.flags_of(results, problem))
    return entry


# -- the whole class
def lock(prefix: str) -> IO:
    """One batch at a time per sandbox prefix: two would kill each other's gradings and record zeros."""
    handle = open(Path(tempfile.gettempdir()) / f"a0-batch-{prefix}.lock", "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(
            f"batch: another batch is running with the sandbox users {prefix}-<n>; wait for it to "
            "finish, or set A0_SANDBOX_PREFIX to another name to run both at once"
        ) from None
    return handle


def run_batch(
    export: Path, out: Path, jobs: int, timeout: float, prefix: str, force: bool = False, cell_timeout=None
) -> list:
    with lock(prefix), tempfile.TemporaryDirectory(prefix="a0-export-") as unpacked:
        if zipfile.is_zipfile(export):
            with zipfile.ZipFile(export) as archive:
                archive.extractall(unpacked)  # zipfile drops absolute paths and `..`
            export = Path(unpacked)
        if not export.is_dir():
            raise SystemExit(f"batch: {export} is neither a zip nor a folder")
        export = _export_root(export)
        meta = read_metadata(export)
        folders = {p.name: p for p in export.iterdir() if p.is_dir() and p.name.startswith("submission_")}
        ids = sorted(set(folders) | set(meta), key=lambda s: (len(s), s))
        rows = {
            i: row(i, meta, None, problem="listed in submission_metadata.yml but has no folder in the export")
            for i in ids
            if i not in folders
        }
        todo = []
        for sub_id in ids:
            results = valid_results(out / sub_id / "results.json") if sub_id in folders else None
            if results and current(results) and not force:
                rows[sub_id] = row(sub_id, meta, results)
            elif sub_id in folders:
                todo.append(sub_id)
        slots, running = queue.Queue(), {}
        for slot in range(1, jobs + 1):
            slots.put(slot)

        def work(sub_id):
            slot = slots.get()
            try:
                return grade_one(
                    folders[sub_id], out / sub_id, f"{prefix}-{slot}", timeout, running, cell_timeout=cell_timeout
                )
            finally:
                slots.put(slot)

        with (
            concurrent.futures.ThreadPoolExecutor(jobs) as pool,
            tqdm(total=len(todo), desc="grading", unit="submission") as bar,
        ):
            futures = {pool.submit(work, sub_id): sub_id for sub_id in todo}
            try:
                for future in concurrent.futures.as_completed(futures):
                    sub_id = futures[future]
                    try:
                        seconds, problem = future.result()
                    except Exception as error:  # noqa: BLE001  -- e.g. run_autograder could not be started
                        seconds, problem = None, f"grader crashed: {error!r}"
                    rows[sub_id] = row(sub_id, meta, valid_results(out / sub_id / "results.json"), seconds, problem)
                    bar.update()
            except KeyboardInterrupt:  # stop the gradings under way too: they run in their own sessions
                pool.shutdown(wait=False, cancel_futures=True)
                for proc, user in list(running.values()):
                    _kill(proc, user)
                raise
    ordered = [rows[i] for i in ids]
    write_outputs(out, ordered, {i: valid_results(out / i / "results.json") for i in ids if i in folders})
    problems = sum(1 for r in ordered if r["problems"])
    flagged = sum(1 for r in ordered if r["flags"])
    print(
        f"batch: {len(ids)} submissions: {len(todo)} graded now, {len(folders) - len(todo)} already graded, "
        f"{len(ids) - len(folders)} without folder; {problems} with problems; {flagged} flagged; "
        f"{out / 'grades.csv'}, {out / 'report.html'}, {out / 'answers.html'}"
    )
    return ordered


def write_outputs(out: Path, ordered: list, results_by_id: dict) -> None:
    """grades.csv (with the identical-notebook flags, which need the whole class), answers, report, feedback pages.
    `results_by_id`: None for a submission without results; no key for one without a folder."""
    identical = flags.identical_groups(results_by_id)
    for entry in ordered:
        if entry["submission_id"] in identical:
            entry["flags"] = "; ".join(["identical", *filter(None, entry["flags"].split("; "))])
            entry["flags_seen_by"] = "; ".join(["identical: parent", *filter(None, entry["flags_seen_by"].split("; "))])
            entry["identical_to"] = "; ".join(identical[entry["submission_id"]])
    _write_csv(out / "grades.csv", ordered)
    pages.write_answers(out, ordered, results_by_id)
    pages.write_report(out, ordered, results_by_id, grader_version())
    for entry in ordered:
        if entry["submission_id"] in results_by_id:
            pages.write_feedback(out / entry["submission_id"], entry, results_by_id[entry["submission_id"]])


def _write_csv(path: Path, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".csv.tmp")
    with open(temp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.batch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("export", type=Path, help="the Download Submissions zip, or its unpacked folder")
    parser.add_argument("out", type=Path, help="where grades.csv and <submission_id>/results.json go")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="gradings at once (default: cores)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=Settings().total_timeout,
        help=f"the grader's own time limit for one notebook (it is killed {GRACE:.0f} s later)",
    )
    parser.add_argument("--cell-timeout", type=float, help="the grader's time limit for one cell (default: its own)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="grade every submission again, even those already graded by this grader version",
    )
    args = parser.parse_args(argv)
    prefix = os.environ.get("A0_SANDBOX_PREFIX", "a0sandbox")
    try:
        run_batch(args.export, args.out, max(1, args.jobs), args.timeout, prefix, args.force, args.cell_timeout)
    except KeyboardInterrupt:
        print("\nbatch: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
