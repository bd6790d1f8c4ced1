"""Regrade a whole class: `python -m grader.batch EXPORT OUT [--jobs N] [--timeout S]` (or `make batch`).

EXPORT is Gradescope's "Download Submissions" zip or its unpacked folder: one `submission_<id>/` folder per
submission and, optionally, `submission_metadata.yml` naming the submitters. Each submission is graded by
./run_autograder in its own subprocess, with the sandbox user of its job slot ($A0_SANDBOX_PREFIX-<slot>, by
default a0sandbox-1, a0sandbox-2...): gradings running at the same time must not share one. Writes
OUT/submission_<id>/results.json (and log.txt, the grader's own log; feedback.html, what the student saw, and
notebook.html), then OUT/grades.csv (one row per submitter, with flags and Gradescope's score beside), changes.csv
(what changed since the previous grader version's run, or differs from Gradescope), answers.csv and answers.html (the
answers graded by hand, anonymous unless --names) and report.html (the class); OUT/runs/<grader version>/ keeps each
version's results.
A submission whose results.json exists, is valid and comes from this grader version is not graded again: an
interrupted batch resumes where it stopped, and a changed grader (rubric, checks) regrades everything; --force
regrades all the same. A grading that fails or hangs gets a row saying so; the batch goes on. SIGINT, SIGTERM and
SIGHUP stop it clean: no grading outlives it, and the unpacked export is removed.
`python -m grader.batch --merge-answers OUT` (make merge-answers) puts the scores and comments a TA filled in
OUT/answers.csv into grades.csv and report.html without grading; a rerun of the batch keeps them too.
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
from collections import Counter
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import IO

import jsonschema
import yaml
from tqdm import tqdm

from . import secret
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
    "by_hand_score",  # answers.csv's score column, once a TA filled it in (make merge-answers)
    "by_hand_comment",
    "total_with_by_hand",
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


def read_metadata(export: Path, due: datetime | None = None, late_due: datetime | None = None) -> dict:
    """{submission id: {"submitters": [{"name", "email", "sid"}], "names", "emails", "sids", "created_at",
    "gradescope_score", "gradescope_tests" ({number: score}, {} when the export has no results), "lateness" (hours
    after the due date, 0 on time), "past_late_due", "attempts", "gradescope_version", "gradescope_secret"}};
    {} without a usable file. Every value is bounded, inert text. The due dates: `due`/`late_due` (the command
    line) else the export's `:assignment:` `:due_date:`/`:late_due_date:` where it has them (the names of
    Gradescope's submission_metadata.json); an entry's own `:due_date:`/`:late_due_date:` (an extension) wins."""
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
    course = v if isinstance(data, dict) and isinstance(v := data.get("assignment"), dict) else {}
    due = due or _when(course.get("due_date"))
    late_due = late_due or _when(course.get("late_due_date"))
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
        created = _when(entry.get("created_at"))
        hours = _hours_late(created, _when(entry.get("due_date")) or due)
        after = _when(entry.get("late_due_date")) or late_due
        results = v if isinstance(v := entry.get("results"), dict) else {}
        facts = v if isinstance(v := results.get("extra_data"), dict) else {}
        found[_text(key)] = {
            "submitters": people,
            **{field + "s": _join([p[field] for p in people]) for field in ("name", "email", "sid")},
            "created_at": _text(entry.get("created_at")),
            "gradescope_score": _number(entry.get("score")),
            "gradescope_tests": _gradescope_tests(entry.get("results")),
            "lateness": hours if hours is not None else _number(entry.get("lateness")),
            "past_late_due": bool(created and after and created > after),
            # Gradescope lists the earlier attempts under :history: (none listed: this is the first)
            "attempts": str(len(history) + 1) if isinstance(history, list) else _number(entry.get("attempts")) or "1",
            "gradescope_version": _hex(facts.get("grader_version")),
            "gradescope_secret": _secret_id(facts.get("secret")),
        }
    return found


_WHEN = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d)(?::(\d\d))?(?:\.\d{1,9})?\s*(Z|UTC|[+-]\d\d:?\d\d)?", re.ASCII
)


def _when(value) -> datetime | None:
    """A time with its offset, as Gradescope's export writes it (`2025-01-10 09:30:00.000000000 -08:00`, which
    YAML may already have read as a datetime) or as a TA types it; None without an offset (ambiguous) or a date."""
    if isinstance(value, datetime):
        return value if value.tzinfo else None
    found = _WHEN.fullmatch(value.strip()) if isinstance(value, str) and len(value) < 64 else None
    if not found or not found.group(7):
        return None
    year, month, day, hour, minute, second, zone = found.groups()
    if zone in ("Z", "UTC"):
        offset = timedelta(0)
    else:
        sign = -1 if zone[0] == "-" else 1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:]))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                        tzinfo=timezone(offset))  # fmt: skip
    except ValueError:
        return None


def _hours_late(created: datetime | None, due: datetime | None) -> str | None:
    """Hours after the due date (two decimals, "0" when on time); None when either time is unknown."""
    if created is None or due is None:
        return None
    return f"{max(0.0, (created - due).total_seconds() / 3600):.2f}".rstrip("0").rstrip(".")


def _secret_id(value) -> str:
    """A results.json's extra_data.secret: the secret's fingerprint (8 hex digits) or "development"."""
    return value if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{8}|development", value) else ""


def _hex(value) -> str:
    return value if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{1,64}", value) else ""


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
    entry["past_late_due"] = bool(entry.get("past_late_due"))
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
    if entry.get("past_late_due"):
        found.append("past_late_due")
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


def version_notice(meta: dict) -> str:
    """One message when the grader version Gradescope recorded in the export's `:results:` is not this checkout's:
    why (the course's secret, or the code) and the fix; "" when they agree or the export records none."""
    recorded = Counter(m["gradescope_version"] for m in meta.values() if m.get("gradescope_version"))
    ours, our_secret = grader_version(), secret.secret_id()
    others = {v: n for v, n in recorded.items() if v != ours}
    if not others:
        return ""
    theirs = max(others, key=lambda v: others[v])
    secrets_there = {m["gradescope_secret"] for m in meta.values() if m.get("gradescope_version") == theirs} - {""}
    said = (
        f"batch: Gradescope graded {sum(others.values())} of {sum(recorded.values())} submissions with grader version "
        f"{theirs}" + (f" (secret {', '.join(sorted(secrets_there))})" if secrets_there else "") + f"; this checkout "
        f"is version {ours} (secret {our_secret}): "
    )
    if our_secret == "development" or (secrets_there and our_secret not in secrets_there):
        return said + (
            "the course's secret differs, so every notebook gets other inputs here and a borderline score may differ. "
            "Fix: take the course's secret from the autograder.zip on Gradescope: `make secret FROM=autograder.zip` "
            + ("" if our_secret == "development" else "(move this checkout's .grader-secret away first) ")
            + "then rerun this batch with FORCE=1."
        )
    cause = "the same secret, other grader code" if secrets_there else "the secret or the grader code differs"
    return said + (
        f"{cause} (a rubric line, a check or a tolerance changed, or another commit), so scores may differ where the "
        "change matters (changes.csv lists them). Fix: grade with the commit whose `make zip` is on Gradescope, or "
        "upload this checkout's `make zip` to Gradescope and Regrade all submissions."
    )


# -- the answers graded by hand, back into grades.csv
class BadAnswers(Exception):
    """A score in answers.csv that is not a number of points: nothing is written (exit status 2)."""


def filled_answers(out: Path) -> dict:
    """{submission id: (score, comment)} from the score and comment columns a TA filled in OUT/answers.csv; a score
    that is not a number >= 0 stops everything (BadAnswers) before any file is written."""
    path = out / "answers.csv"
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        lines = list(csv.DictReader(f))
    found, wrong = {}, []
    for number, line in enumerate(lines, 2):
        score, comment = (line.get("score") or "").strip().lstrip("'"), (line.get("comment") or "").strip()
        if not score and not comment:
            continue
        try:
            value = float(score) if score else None
        except ValueError:
            value = -1.0
        if value is not None and not (math.isfinite(value) and value >= 0):
            wrong.append(f"line {number} (submission {_text(line.get('submission_id'))[:40]}): score {score!r}")
            continue
        found["submission_" + _text(line.get("submission_id"))[:80]] = ("" if value is None else f"{value:g}", comment)
    if wrong:
        raise BadAnswers(
            f"batch: {path}: a score must be a number of points, 0 or more (or blank): " + "; ".join(wrong[:10])
        )
    return found


def apply_answers(rows: list, answers: dict) -> None:
    """grades.csv's by_hand_score, by_hand_comment and total_with_by_hand, from `filled_answers`."""
    for entry in rows:
        score, comment = answers.get(entry["submission_id"], ("", ""))
        entry["by_hand_score"], entry["by_hand_comment"] = score, _text(comment)[:TEXT]
        both = score and entry.get("total")
        entry["total_with_by_hand"] = f"{float(entry['total']) + float(score):g}" if both else ""


def merge_answers(out: Path) -> int:
    """`make merge-answers OUT=dir`: answers.csv's filled-in scores and comments into grades.csv, answers.csv and
    report.html, from what the last batch kept (OUT/rows.json); nothing is graded."""
    try:
        kept = json.loads((out / "rows.json").read_text())
    except (OSError, ValueError):
        print(f"batch: {out} holds no batch to merge into (no rows.json): run make batch first", file=sys.stderr)
        return 2
    answers = filled_answers(out)
    rows = kept["rows"]
    apply_answers(rows, answers)
    results_by_id = {i: valid_results(out / i / "results.json") for i in kept["graded"]}
    write_outputs(out, rows, results_by_id, kept["changes"], kept["names"], kept.get("notice", ""))
    scored = sum(1 for r in rows if r["by_hand_score"])
    print(f"batch: {scored} of {len(rows)} submissions have a score graded by hand; {out / 'grades.csv'}")
    return 0


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
    due=(None, None),
) -> list:
    in_main = threading.current_thread() is threading.main_thread()
    previous = {each: signal.signal(each, _on_signal) for each in STOP_SIGNALS} if in_main else {}
    try:
        with lock(prefix), tempfile.TemporaryDirectory(prefix="a0-export-") as unpacked:
            os.umask(0o077)  # OUT holds every student's names, ids and scores: the grading user's only
            out.mkdir(parents=True, exist_ok=True)
            os.chmod(out, 0o700)
            return _run(export, out, jobs, timeout, prefix, force, cell_timeout, names, Path(unpacked), due)
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


def _run(export, out, jobs, timeout, prefix, force, cell_timeout, names, unpacked, due=(None, None)) -> list:
    if zipfile.is_zipfile(export):
        with zipfile.ZipFile(export) as archive:
            archive.extractall(unpacked)  # zipfile drops absolute paths and `..`
        export = unpacked
    if not export.is_dir():
        raise SystemExit(f"batch: {export} is neither a zip nor a folder")
    export = _export_root(export)
    meta = read_metadata(export, *due)
    answers = filled_answers(out)  # before anything is written: a TA's scores survive the rerun
    notice = version_notice(meta)
    if notice:
        print(notice, flush=True)  # once, before grading: the TA can stop here and fix it
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
    apply_answers(ordered, answers)
    results_by_id = {i: valid_results(out / i / "results.json") for i in ids if i in folders}
    changes = keep_runs(out, ids, results_by_id, ordered)
    kept = {"rows": ordered, "graded": sorted(results_by_id), "changes": changes, "names": names, "notice": notice}
    _write_lines(out / "rows.json", [json.dumps(kept)])  # for make merge-answers (names and grades: OUT is private)
    write_outputs(out, json.loads(json.dumps(ordered)), results_by_id, changes, names, notice)
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


def write_outputs(out: Path, ordered: list, results_by_id: dict, changes=(), names: bool = False, notice="") -> None:
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
    pages.write_report(out, ordered, results_by_id, grader_version(), changes, notice)
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
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--merge-answers"]:
        if len(argv) != 2:
            print("usage: python -m grader.batch --merge-answers OUT", file=sys.stderr)
            return 2
        try:
            return merge_answers(Path(argv[1]))
        except BadAnswers as wrong:
            print(wrong, file=sys.stderr)
            return 2
    parser = argparse.ArgumentParser(
        prog="python -m grader.batch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("export", type=Path, help="the Download Submissions zip, or its unpacked folder")
    parser.add_argument("out", type=Path, help="where grades.csv and submission_<id>/results.json go")
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
    parser.add_argument("--due", help="the assignment's due date with its offset, e.g. '2025-01-10 23:59 -08:00'")
    parser.add_argument("--late-due", help="the late due date (after it, a submission is flagged past_late_due)")
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
    due = tuple(_when(value) if value else None for value in (args.due, args.late_due))
    for value, when in zip((args.due, args.late_due), due):
        if value and when is None:
            print(
                f"batch: {value!r}: give a date, a time and its offset, e.g. '2025-01-10 23:59 -08:00'", file=sys.stderr
            )
            return 2
    try:
        secret.secret()
    except secret.NoSecret as missing:  # refused before anything is graded
        print(f"batch: {missing}", file=sys.stderr)
        return 2
    if os.geteuid() != 0 and not landlock_abi() and not args.risk_my_files:
        print(REFUSAL, file=sys.stderr)
        return 2
    try:
        run_batch(
            args.export,
            args.out,
            max(1, args.jobs),
            args.timeout,
            prefix,
            args.force,
            args.cell_timeout,
            args.names,
            due,
        )
    except BadAnswers as wrong:
        print(wrong, file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Stopped) as stop:
        try:
            print(f"\nbatch: stopped ({stop or 'SIGINT'}); run the same command again to resume", file=sys.stderr)
        except OSError:  # the terminal is gone (SIGHUP)
            pass
        return 128 + getattr(stop, "signum", signal.SIGINT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
