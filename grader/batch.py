"""Regrade a whole class: `python -m grader.batch EXPORT OUT [--jobs N] [--timeout S]` (or `make batch`).

EXPORT is Gradescope's "Download Submissions" zip or its unpacked folder: one `submission_<id>/` folder per
submission and, optionally, `submission_metadata.yml` naming the submitters. Each submission is graded by
./run_autograder in its own subprocess, with the sandbox user of its job slot ($A0_SANDBOX_PREFIX-<slot>, by
default a0sandbox-1, a0sandbox-2...): gradings running at the same time must not share one. Writes
OUT/<id>/results.json (and log.txt, the grader's own log; feedback.html, what the student saw, and notebook.html),
then OUT/grades.csv (one row per submitter, with flags and Gradescope's score beside), changes.csv (what changed since
the previous grader version's run, or differs from Gradescope), answers.csv and answers.html (the answers graded by
hand, anonymous unless --names) and report.html (the class); OUT/runs/<grader version>/ keeps each version's results.
A submission whose results.json exists, is valid and comes from this grader version is not graded again: an
interrupted batch resumes where it stopped, and a changed grader (rubric, checks) regrades everything; --force
regrades all the same. A grading that fails or hangs gets a row saying so; the batch goes on. SIGINT, SIGTERM and
SIGHUP stop it clean: no grading outlives it, and the unpacked export is removed.
"""

import argparse
import concurrent.futures
import csv
import fcntl
import json
import math
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from functools import cache
from pathlib import Path
from typing import IO

import jsonschema
import yaml
from tqdm import tqdm

from .assignment import load
from .grade import Job
from .landlock import landlock_abi
from .report import flags, pages
from .sandbox.lease import system_user
from .serve import Server
from .settings import Settings, declared_default
from .version import grader_version

RUBRIC = load().rubric  # the graded assignment's lines, by number

ROOT = Path(__file__).resolve().parents[1]
RUN_AUTOGRADER = ROOT / "run_autograder"
SCHEMA = json.loads((ROOT / "grader" / "scoring" / "gradescope_schema.json").read_text())
STOPPED = "the batch was stopped during this grading"
GRACE = 120.0  # seconds a grading may take beyond its own --timeout before it is killed from outside
COLUMNS = [  # grades.csv: one row per submitter, joining Gradescope's export on the submission id
    "submission_id",
    "name",
    "email",
    "sid",
    "submitters",
    "created_at",
    "lateness",
    "attempts",
    "gradescope_score",
    *RUBRIC,
    "total",
    "differs_from_gradescope",
    "seconds",
    "problems",
    "flags",
    "flags_seen_by",  # parent (the grader itself), reader (the notebook's text) or runner (the notebook's report)
    "identical_to",
    "notebook",
    "first_failing_cell",
    "grader_version",
]
FIELDS = ["submission_id", "names", "emails", "sids", *COLUMNS[4:]]  # a submission's row in the pages
CHANGES = ["submission_id", "names", "what", "compared_with", "before", "now"]


# -- the export
METADATA_BYTES = 64 * 1024**2  # a class of thousands with every test result is a few MB
METADATA_NODES = 1_000_000  # YAML aliases may repeat one node many times: what _plain copies is counted
METADATA_DEPTH = 32
TEXT = 300  # the most kept of one name, email, student id or date (student-set; shown to staff)
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


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


def _plain(value, budget: list, depth: int = 0):
    """Ruby symbol keys (`:submitters`) become plain keys (`submitters`); bounded in depth and nodes."""
    budget[0] -= 1
    if budget[0] < 0 or depth > METADATA_DEPTH:
        raise ValueError("too large or too deep")
    if isinstance(value, dict):
        return {str(k).lstrip(":"): _plain(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, budget, depth + 1) for v in value]
    return value


def _text(value) -> str:
    """Student-set text (names, emails, ids) as one inert line of at most TEXT characters."""
    text = " ".join(_UNSAFE.sub("", "" if value is None else str(value)).split())
    return text if len(text) <= TEXT else text[: TEXT - 1] + "…"


def read_metadata(export: Path) -> dict:
    """{submission id: {"submitters": [{"name", "email", "sid"}], "names", "emails", "sids", "created_at",
    "gradescope_score", "gradescope_tests" ({number: score}, {} when the export has no results), "lateness",
    "attempts"}}; {} without a usable file. Every value is bounded, inert text."""
    path = export / "submission_metadata.yml"
    if not path.is_file():
        return {}
    try:
        if path.stat().st_size > METADATA_BYTES:
            raise ValueError(f"larger than {METADATA_BYTES // 1024**2} MB")
        data = _plain(yaml.load(path.read_text(encoding="utf-8", errors="replace"), Loader=_Loader), [METADATA_NODES])
    except (yaml.YAMLError, ValueError, RecursionError) as error:
        print(f"batch: {path.name} could not be read ({error}); names and emails are left empty", file=sys.stderr)
        return {}
    found = {}
    for key, entry in data.items() if isinstance(data, dict) else []:
        if not re.fullmatch(r"submission_[\w-]{1,64}", str(key), re.ASCII):  # it names a folder under OUT
            continue
        entry = entry if isinstance(entry, dict) else {}
        people = [
            {field: _text(p.get(field)) for field in ("name", "email", "sid")}
            for p in entry.get("submitters") or []
            if isinstance(p, dict)
        ]
        history = entry.get("history")
        found[_text(key)] = {
            "submitters": people,
            **{field + "s": _join([p[field] for p in people]) for field in ("name", "email", "sid")},
            "created_at": _text(entry.get("created_at")),
            "gradescope_score": _number(entry.get("score")),
            "gradescope_tests": _gradescope_tests(entry.get("results")),
            "lateness": _text(next((entry[k] for k in ("lateness", "late_by", "late") if k in entry), "")),
            "attempts": str(len(history) + 1) if isinstance(history, list) else _number(entry.get("attempts")),
        }
    return found


def _gradescope_tests(results) -> dict:
    """{rubric number: score as text} from the export's copy of the results.json the student saw."""
    tests = results.get("tests") if isinstance(results, dict) else None
    found = {}
    for test in tests if isinstance(tests, list) else []:
        if isinstance(test, dict) and _text(test.get("number")) in RUBRIC:
            found[_text(test.get("number"))] = _number(test.get("score"))
    return found


def _join(values: list) -> str:
    """One value per submitter, in the same order in every column; empty when none has one."""
    return "; ".join(values) if any(values) else ""


def _number(value) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return f"{number:g}" if math.isfinite(number) else ""


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
    """Whether ./run_autograder has --ta-files (notebook.html, the hand-graded answer's images), which came after the
    batch."""
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
    server=None,
) -> tuple:
    """Grade one submission into out/results.json; returns (seconds, problem or ""). `running` tracks the
    subprocess while it runs, so an interrupted batch can stop it. With a `server` (grader/serve.py, the job
    slot's), this grader grades it there, its children forked warm; else `command` (run_autograder) does."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.iterdir():  # a regrading leaves only the files it writes: nothing old looks current
        if stale.is_symlink() or not stale.is_dir():
            stale.unlink(missing_ok=True)
    started = time.monotonic()
    settings = Settings(sandbox_user=user, total_timeout=timeout)
    if cell_timeout:
        settings.cell_timeout = cell_timeout
    job = Job(submission, out / "results.json", settings, log_output=False)
    if server is not None or (tuple(command) == (str(RUN_AUTOGRADER),) and _writes_ta_files()):
        job.ta_dir = out
        # the export (every student's work, the roster) and the output folder: out of the child's sight
        job.hide = (submission.absolute().parent, out.absolute().parent)
    with open(out / "log.txt", "w") as log:
        with _STARTING:
            if _STOPPING.is_set():
                return 0.0, STOPPED
            proc = server or subprocess.Popen(
                [*command, *command_line(job)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            running[id(proc)] = (proc, user)
        try:
            if server:
                code = server.grade(job, log=out / "log.txt", timeout=timeout + GRACE)
            else:
                code = proc.wait(timeout=timeout + GRACE)
        except subprocess.TimeoutExpired:
            _kill(proc, user)
            return time.monotonic() - started, f"grading timed out after {timeout + GRACE:.0f} s and was killed"
        finally:
            running.pop(id(proc), None)
    seconds = time.monotonic() - started
    if _STOPPING.is_set():  # stopped with the batch: what it wrote says "interrupted", not a grade to keep
        (out / "results.json").unlink(missing_ok=True)
        return seconds, STOPPED
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


def command_line(job: Job) -> list:
    """run_autograder's arguments for `job`, for a grader run as a command (`grade_one`'s `command`)."""
    args = ["--submission", str(job.submission), "--results", str(job.results), "--quiet", "--no-notebook-output"]
    args += ["--sandbox-user", str(job.settings.sandbox_user), "--timeout", str(job.settings.total_timeout)]
    if job.settings.cell_timeout != Settings().cell_timeout:
        args += ["--cell-timeout", str(job.settings.cell_timeout)]
    if job.ta_dir is not None:
        args += ["--ta-files", str(job.ta_dir)]
    for folder in job.hide:
        args += ["--hide", str(folder)]
    return args


def _kill(proc, user: str, ask_first: float = 0.0) -> None:
    """Stop the grader, then (as root) everything its sandbox user still runs: the child is in its own session.
    `ask_first`: seconds the grader gets to stop itself on SIGTERM (it then removes its copy of the notebook)."""
    if ask_first:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=ask_first)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(proc, signal.SIGKILL)
    proc.wait(timeout=30)
    if os.geteuid() == 0:
        subprocess.run(["pkill", "-KILL", "-u", user], timeout=30, check=False)


def _signal_group(proc, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except ProcessLookupError:
        pass


def problems_of(results: dict) -> str:
    """What a TA should look at, from the grader's facts in results.json (extra_data)."""
    facts = results.get("extra_data", {})
    if facts.get("problem"):
        return facts["problem"]
    if facts.get("ending") and not facts.get("finished"):
        return facts["ending"]
    return ""


def row(sub_id: str, meta: dict, results, seconds=None, problem="") -> dict:
    """A submission's row (grades.csv has one per submitter). `seconds`: the grader's own execution_time when there
    are results."""
    entry = {c: "" for c in FIELDS} | {"submitters": [], "gradescope_tests": {}} | meta.get(sub_id, {})
    entry["submission_id"] = sub_id
    if results:
        facts = flags.facts_of(results)
        for column in ("notebook", "first_failing_cell", "grader_version"):
            entry[column] = "" if facts.get(column) is None else str(facts[column])
        entry.update(scores_of(results))
        seconds = results.get("execution_time", seconds)
        problem = problem or problems_of(results)
    entry["seconds"] = f"{seconds:.1f}" if seconds is not None else ""
    entry["problems"] = problem
    found = flags.flags_of(results, problem)
    entry["differs_from_gradescope"] = "; ".join(
        f"{what}: Gradescope {before}, here {now or 'none'}" for what, before, now in gradescope_differences(entry)
    )
    if entry["differs_from_gradescope"]:
        found.append("differs_from_gradescope")
    entry["flags"] = "; ".join(found)
    entry["flags_seen_by"] = flags.seen_by_of(results, found)
    return entry


def scores_of(results) -> dict:
    """{rubric number: score, "total": score}, as text, of a results.json ({} without one)."""
    if not results:
        return {}
    scores = {t.get("number"): t.get("score", 0) for t in results.get("tests", [])}
    found = {number: f"{scores[number]:g}" for number in RUBRIC if number in scores}
    return found | {"total": f"{results.get('score', sum(scores.values())):g}"}


def gradescope_differences(entry: dict) -> list:
    """[(what, Gradescope's score, this grading's)] wherever the export has a score that this grading differs from."""
    theirs = {**entry.get("gradescope_tests", {}), "total": entry.get("gradescope_score", "")}
    return [
        (k if k == "total" else f"test {k}", v, entry.get(k, "")) for k, v in theirs.items() if v and v != entry.get(k)
    ]


# -- the whole class
def lock(prefix: str) -> IO:
    """One batch at a time per sandbox prefix: two would kill each other's gradings and record zeros."""
    # per user: a lock another user left in /tmp cannot be opened (only root leases sandbox users anyway)
    handle = open(Path(tempfile.gettempdir()) / f"a0-batch-{prefix}-{os.getuid()}.lock", "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(
            f"batch: another batch is running with the sandbox users {prefix}-<n>; wait for it to "
            "finish, or set A0_SANDBOX_PREFIX to another name to run both at once"
        ) from None
    return handle


class Stopped(Exception):
    """SIGINT, SIGTERM or SIGHUP (the terminal closed) reached the batch."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _on_signal(signum, frame):
    for each in STOP_SIGNALS:  # a second signal must not cut the cleanup short
        signal.signal(each, signal.SIG_IGN)
    raise Stopped(signum)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_STOPPING = threading.Event()  # set once the batch stops: no grading starts after it
_STARTING = threading.Lock()  # held while a grading starts, so a stop sees every grading that started


def stop_all(running: dict) -> None:
    with _STARTING:
        _STOPPING.set()
        under_way = list(running.values())
    for proc, user in under_way:
        _kill(proc, user, ask_first=20)


def run_batch(
    export: Path,
    out: Path,
    jobs: int,
    timeout: float,
    prefix: str,
    force: bool = False,
    cell_timeout=None,
    names: bool = False,
) -> list:
    in_main = threading.current_thread() is threading.main_thread()
    previous = {each: signal.signal(each, _on_signal) for each in STOP_SIGNALS} if in_main else {}
    try:
        with lock(prefix), tempfile.TemporaryDirectory(prefix="a0-export-") as unpacked:
            os.umask(0o077)  # OUT holds every student's names, ids and scores: the grading user's only
            out.mkdir(parents=True, exist_ok=True)
            os.chmod(out, 0o700)
            return _run(export, out, jobs, timeout, prefix, force, cell_timeout, names, Path(unpacked))
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


def _run(export, out, jobs, timeout, prefix, force, cell_timeout, names, unpacked) -> list:
    if zipfile.is_zipfile(export):
        with zipfile.ZipFile(export) as archive:
            archive.extractall(unpacked)  # zipfile drops absolute paths and `..`
        export = unpacked
    if not export.is_dir():
        raise SystemExit(f"batch: {export} is neither a zip nor a folder")
    export = _export_root(export)
    meta = read_metadata(export)
    folders = {p.name: p for p in export.iterdir() if p.is_dir() and p.name.startswith("submission_")}
    ids = sorted(set(folders) | set(meta), key=lambda s: (len(s), s))
    keep_runs(out, ids)  # before any regrading overwrites the results of another grader version
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
    slots, running, servers = queue.Queue[int](), dict[int, tuple](), dict[int, Server]()
    for slot in range(1, jobs + 1):
        slots.put(slot)
        if os.geteuid() == 0 and slot <= len(todo):  # every slot's user now, before any notebook runs: a useradd
            system_user(f"{prefix}-{slot}")  # replaces /etc/passwd, which a confined child then can't read (Landlock)

    def work(sub_id):
        slot = slots.get()
        try:
            server = servers.setdefault(slot, Server())
            return grade_one(
                folders[sub_id],
                out / sub_id,
                f"{prefix}-{slot}",
                timeout,
                running,
                cell_timeout=cell_timeout,
                server=server,
            )
        finally:
            slots.put(slot)

    _STOPPING.clear()
    pool = concurrent.futures.ThreadPoolExecutor(jobs)
    try:
        with tqdm(total=len(todo), desc="grading", unit="submission") as bar:
            futures = {pool.submit(work, sub_id): sub_id for sub_id in todo}
            for future in concurrent.futures.as_completed(futures):
                sub_id = futures[future]
                try:
                    seconds, problem = future.result()
                except Exception as error:  # noqa: BLE001  -- e.g. run_autograder could not be started
                    seconds, problem = None, f"grader crashed: {error!r}"
                rows[sub_id] = row(sub_id, meta, valid_results(out / sub_id / "results.json"), seconds, problem)
                bar.update()
    except BaseException:  # a signal, Ctrl-C: no grading may outlive the batch (they run in their own sessions)
        pool.shutdown(wait=False, cancel_futures=True)
        stop_all(running)
        raise
    finally:
        pool.shutdown(wait=True)
        for server in servers.values():
            server.close()
    ordered = [rows[i] for i in ids]
    results_by_id = {i: valid_results(out / i / "results.json") for i in ids if i in folders}
    changes = keep_runs(out, ids, results_by_id, ordered)
    write_outputs(out, ordered, results_by_id, changes, names)
    problems = sum(1 for r in ordered if r["problems"])
    flagged = sum(1 for r in ordered if r["flags"])
    print(
        f"batch: {len(ids)} submissions: {len(todo)} graded now, {len(folders) - len(todo)} already graded, "
        f"{len(ids) - len(folders)} without folder; {problems} with problems; {flagged} flagged; "
        f"{len(changes)} changes; {out / 'grades.csv'}, {out / 'changes.csv'}, {out / 'report.html'}, "
        f"{out / 'answers.html'}"
    )
    return ordered


# -- every run kept: OUT/runs/<grader version>/<submission id>.json, in the order of OUT/runs/order.txt
def keep_runs(out: Path, ids: list, results_by_id=None, rows=()) -> list:
    """Keep each results.json under its grader version. Without `results_by_id` (before grading): keep what is
    there. With it (after): keep this run's, and return the changes from the previous grader version's run and
    from Gradescope, as rows of changes.csv."""
    runs = out / "runs"
    order = _run_order(out)
    found = results_by_id or {i: valid_results(out / i / "results.json") for i in ids}
    for sub_id, results in found.items():
        version = flags.facts_of(results).get("grader_version")
        if not results or not isinstance(version, str) or not re.fullmatch(r"[0-9a-f]{1,64}", version):
            continue
        (runs / version).mkdir(parents=True, exist_ok=True)
        if version not in order:
            order.append(version)
        shutil.copyfile(out / sub_id / "results.json", runs / version / f"{sub_id}.json")
    if results_by_id is None:
        _write_lines(runs / "order.txt", order)
        return []
    now = grader_version()
    order = [v for v in order if v != now] + [now]
    _write_lines(runs / "order.txt", order)
    before = order[-2] if len(order) > 1 else None
    changes = []
    for entry in rows:
        sub_id = entry["submission_id"]
        if before:
            old = scores_of(valid_results(runs / before / f"{sub_id}.json"))
            for what in [*RUBRIC, "total"]:
                if old.get(what, "") != entry.get(what, "") and (old or entry.get("total")):
                    label = "total" if what == "total" else f"test {what}"
                    changes.append([sub_id, entry["names"], label, f"grader {before}", old.get(what, ""), entry[what]])
        for what, theirs, ours in gradescope_differences(entry):
            changes.append([sub_id, entry["names"], what, "Gradescope", theirs, ours])
    return changes


def _run_order(out: Path) -> list:
    try:
        return [v for v in (out / "runs" / "order.txt").read_text().split() if re.fullmatch(r"[0-9a-f]{1,64}", v)]
    except OSError:
        return []


def _write_lines(path: Path, lines: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".tmp").write_text("".join(f"{line}\n" for line in lines))
    os.replace(path.with_suffix(".tmp"), path)


def write_outputs(out: Path, ordered: list, results_by_id: dict, changes=(), names: bool = False) -> None:
    """grades.csv (with the identical-notebook flags, which need the whole class), changes.csv, answers, report,
    feedback pages. `results_by_id`: None for a submission without results; no key for one without a folder."""
    identical = flags.identical_groups(results_by_id)
    for entry in ordered:
        if entry["submission_id"] in identical:
            entry["flags"] = "; ".join(["identical", *filter(None, entry["flags"].split("; "))])
            entry["flags_seen_by"] = "; ".join(["identical: parent", *filter(None, entry["flags_seen_by"].split("; "))])
            entry["identical_to"] = "; ".join(identical[entry["submission_id"]])
    _write_csv(out / "grades.csv", COLUMNS, [line for entry in ordered for line in _per_submitter(entry)])
    _write_csv(out / "changes.csv", CHANGES, [dict(zip(CHANGES, [_id(c[0]), *c[1:]])) for c in changes])
    pages.write_answers(out, ordered, results_by_id, names=names)
    pages.write_report(out, ordered, results_by_id, grader_version(), changes)
    for entry in ordered:
        if entry["submission_id"] in results_by_id:
            pages.write_feedback(out / entry["submission_id"], entry, results_by_id[entry["submission_id"]])


def _id(sub_id: str) -> str:
    """Gradescope's submission id (the number), as its own grade export spells it."""
    return sub_id.removeprefix("submission_")


def _per_submitter(entry: dict) -> list:
    """One grades.csv row per submitter of the submission (one row without a name when none is known)."""
    people = entry["submitters"] or [{"name": "", "email": "", "sid": ""}]
    base = {c: entry.get(c, "") for c in COLUMNS} | {
        "submission_id": _id(entry["submission_id"]),
        "submitters": str(len(entry["submitters"])) if entry["submitters"] else "",
        "identical_to": "; ".join(_id(i) for i in filter(None, entry["identical_to"].split("; "))),
    }
    return [base | person for person in people]


def _write_csv(path: Path, columns: list, rows: list) -> None:
    """UTF-8 with a byte-order mark (Excel on Windows reads accented names right), no field a formula."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".csv.tmp")
    with open(temp, "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: pages.spreadsheet_safe(v) for k, v in line.items() if k in columns} for line in rows)
    os.replace(temp, path)


RISK_FLAG = "--unconfined-notebooks-can-read-and-change-my-files"
REFUSAL = (
    "batch: REFUSED: nothing here confines the notebooks' files: the grader is not root (no sandbox user) and this "
    "kernel has no Landlock (macOS, Linux before 5.13). Every student's notebook could read and change every file "
    "you can (this checkout, your home, ~/.ssh, the other students' work and grades). Grade the class on Linux "
    f"5.13+ or as root; or accept the risk with {RISK_FLAG} (make batch ... RISK_MY_FILES=1)."
)


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
        "--names",
        action="store_true",
        help="show names beside the answers graded by hand (answers.html, answers.csv); by default they are anonymous",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="grade every submission again, even those already graded by this grader version",
    )
    parser.add_argument(
        RISK_FLAG,
        dest="risk_my_files",
        action="store_true",
        help="grade even where nothing confines the notebooks' files (not root, no Landlock: macOS, an old kernel): "
        "every notebook can then read and change every file you can",
    )
    args = parser.parse_args(argv)
    prefix = declared_default("sandbox_pool")  # A0_SANDBOX_PREFIX, else a0sandbox
    if os.geteuid() != 0 and not landlock_abi() and not args.risk_my_files:
        print(REFUSAL, file=sys.stderr)
        return 2
    try:
        run_batch(
            args.export, args.out, max(1, args.jobs), args.timeout, prefix, args.force, args.cell_timeout, args.names
        )
    except (KeyboardInterrupt, Stopped) as stop:
        try:
            print(f"\nbatch: stopped ({stop or 'SIGINT'}); run the same command again to resume", file=sys.stderr)
        except OSError:  # the terminal is gone (SIGHUP)
            pass
        return 128 + getattr(stop, "signum", signal.SIGINT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
