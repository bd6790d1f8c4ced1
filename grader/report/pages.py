"""The course staff's pages: answers.html/.csv (answers graded by hand), report.html (the class), <id>/feedback.html.

Every page is one self-contained file: inline CSS, the plot as inline SVG, images as data: URIs, no scripts, and a
Content-Security-Policy that forbids scripts and remote loads. Student text is escaped; results.json's Markdown is
rendered with raw HTML and images disabled; the notebook page (untrusted: made next to student code) is shown in
a sandboxed iframe without scripts.
"""

import base64
import csv
import html
import io
import os
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import cast

from markdown_it import MarkdownIt

from ..assignment import load
from ..settings import Settings
from . import flags as F

ASSIGNMENT = load()  # the graded assignment
RUBRIC = ASSIGNMENT.rubric  # its lines, by number
LABELS = {**F.LABELS, **{flag.code: flag.label for flag in ASSIGNMENT.flags}}  # flag code -> what pages say

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-src 'self'"
CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1em auto; max-width: 72em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1em; } td, th { border: 1px solid #ccc; padding: 3px 8px;
  vertical-align: top; text-align: left; }
th { background: #f0f0f0; } .num { text-align: right; } .muted { color: #777; }
.answer { white-space: pre-wrap; font-family: ui-serif, Georgia, serif; max-width: 48em; }
tr.differs td { background: #fde2b8; }
.flag { display: inline-block; background: #fde2b8; border-radius: 3px; padding: 0 5px; margin: 1px; font-size: 12px; }
.test { border-left: 4px solid #2a2; padding: 0 .8em; margin: .8em 0; } .test.failed { border-left-color: #c22; }
.test h3 { font-size: 15px; margin: .4em 0; } pre { background: #f6f6f6; padding: .4em; overflow-x: auto; }
blockquote { border-left: 3px solid #ccc; margin-left: 0; padding-left: .8em; color: #444; }
iframe { width: 100%; height: 80vh; border: 1px solid #aaa; }
img.answer-image { max-width: 40em; border: 1px solid #ddd; display: block; margin: .3em 0; }
"""
_ANSWER_IMAGE = re.compile(r"answer-\d+\.png")
_QUOTED_ANSWER = "Your answer, for the course staff to grade by hand:"
_markdown = MarkdownIt("commonmark", {"html": False}).disable("image")  # an image would load from anywhere
MAX_POINTS = sum(item.points for item in RUBRIC.values())


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


def markdown(text: str) -> str:
    return _markdown.render(text or "")


def page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<meta name="referrer" content="no-referrer"><title>{esc(title)}</title><style>{CSS}</style></head>\n'
        f"<body>\n{body}\n</body></html>\n"
    )


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def who(row: dict) -> str:
    return row["names"] or "(no name)"


def flag_chips(row: dict) -> str:
    """Each flag, with who saw it: the grader itself, the notebook's code, or the notebook's own report."""
    seen = dict(part.split(": ", 1) for part in row.get("flags_seen_by", "").split("; ") if ": " in part)
    return "".join(
        f'<span class="flag">{esc(LABELS.get(f, f))} '
        f"<small>({esc(F.SEEN_BY.get(seen.get(f, ''), F.SEEN_BY['parent']))})</small></span>"
        for f in row["flags"].split("; ")
        if f
    )


# -- the answers graded by hand (Assignment.by_hand)
BY_HAND = f"Answers to test {ASSIGNMENT.by_hand}, graded by hand"


def by_hand_answer(results) -> dict:
    """{"answer": text or None, "images": [file names]}: extra_data.by_hand, or, from a grader that does not
    write it, the answer quoted in the hand-graded test's output."""
    found = F.facts_of(results).get("by_hand")
    if isinstance(found, dict):
        images = [n for n in found.get("images") or [] if isinstance(n, str) and _ANSWER_IMAGE.fullmatch(n)]
        answer = found.get("answer")
        return {"answer": answer if isinstance(answer, str) else None, "images": images}
    test = next((t for t in (results or {}).get("tests", []) if t.get("number") == ASSIGNMENT.by_hand), None)
    output = (test or {}).get("output", "")
    if test and test.get("status") == "passed" and output.startswith(_QUOTED_ANSWER):
        lines = output[len(_QUOTED_ANSWER) :].strip("\n").splitlines()
        return {
            "answer": "\n".join(line[2:] if line.startswith("> ") else line.lstrip(">") for line in lines),
            "images": [],
        }
    return {"answer": None, "images": []}


def _png(path: Path):
    """A data: URI for a PNG the grader wrote (answer-<n>.png), or None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode() if data.startswith(b"\x89PNG\r\n\x1a\n") else None


_NUMERIC = re.compile(r"[-+]?\d+(\.\d+)?([eE][-+]?\d+)?")


def spreadsheet_safe(text) -> str:
    """A cell starting with = + - @ (or a tab, a CR) is a formula to Excel and Sheets (CSV injection): prefix it
    with '. A number stays a number (a negative score, a student id like -3)."""
    text = "" if text is None else str(text)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMERIC.fullmatch(text):
        return "'" + text
    return text


def answer_groups(rows: list, results_by_id: dict) -> tuple:
    """([(group label, [(row, found)])], empty, missing): identical answers (whitespace aside) together, the
    largest group first; answers with images are each their own group; every submission exactly once."""
    groups, empty, missing = dict[object, list](), list[tuple](), list[tuple]()
    for row in rows:
        results = results_by_id.get(row["submission_id"])
        found = by_hand_answer(results)
        if not results or "not_graded" in row["flags"].split("; "):
            missing.append((row, found))
        elif not (found["answer"] or "").strip() and not found["images"]:
            empty.append((row, found))
        else:
            text = " ".join((found["answer"] or "").split())
            groups.setdefault((text, row["submission_id"]) if found["images"] else text, []).append((row, found))
    ordered = sorted(groups.values(), key=lambda members: (-len(members), words(members[0][1])))
    return [(f"A{n}", members) for n, members in enumerate(ordered, 1)], empty, missing


def words(found: dict) -> int:
    return len((found["answer"] or "").split())


def write_answers(out: Path, rows: list, results_by_id: dict, names: bool = False) -> None:
    """answers.csv (one row per submission, blank score and comment columns) and answers.html, for grading
    by hand: anonymous unless `names`, identical answers grouped, empty and missing ones apart."""
    groups, empty, missing = answer_groups(rows, results_by_id)
    people = ["names", "sids", "emails"] if names else []
    with open(out / "answers.csv.tmp", "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(["submission_id", *people, "group", "group_size", "status", "words", "answer", "images",
                         "score", "comment"])  # fmt: skip
        listed: list[tuple] = [(label, len(m), "answered", r, fd) for label, m in groups for r, fd in m]
        listed += [("", "", "empty", r, fd) for r, fd in empty] + [("", "", "missing", r, fd) for r, fd in missing]
        for label, size, status, row, found in listed:
            images = "; ".join(f"{row['submission_id']}/{name}" for name in found["images"])
            cells = [row["submission_id"].removeprefix("submission_"), *(row[k] for k in people), label, size]
            cells += [status, words(found) if status == "answered" else 0, found["answer"] or "", images]
            cells += [row.get("by_hand_score", ""), row.get("by_hand_comment", "")]  # a TA's, kept (make merge-answers)
            writer.writerow(spreadsheet_safe(str(cell)) for cell in cells)
    os.replace(out / "answers.csv.tmp", out / "answers.csv")

    def submitters(members):
        return ", ".join(
            f'<a href="{esc(r["submission_id"])}/feedback.html">{esc(r["submission_id"])}</a>'
            + (f' <span class="muted">{esc(who(r))}</span>' if names else "")
            for r, _ in members
        )

    items = []
    for label, members in groups:
        found = members[0][1]
        answer = f'<div class="answer">{esc(found["answer"])}</div>' if found["answer"] else ""
        for name in found["images"]:
            uri = _png(out / members[0][0]["submission_id"] / name)
            answer += (
                f'<img class="answer-image" alt="{esc(name)}" src="{uri}">'
                if uri
                else f'<p class="muted">image {esc(name)} is missing</p>'
            )
        items.append(
            f'<tr id="{label}"><td>{label}</td><td class=num>{len(members)}</td><td class=num>{words(found)}</td>'
            f"<td>{answer}</td><td>{submitters(members)}</td></tr>"
        )
    body = (
        f"<h1>{esc(BY_HAND)}</h1><p>{len(rows)} submissions: <b>{sum(len(m) for _, m in groups)}</b> "
        f"answered ({len(groups)} different answers), <b>{len(empty)}</b> empty, <b>{len(missing)}</b> not "
        "graded. Identical answers (whitespace aside) are grouped, the largest group first; "
        + ("names are shown." if names else "names are hidden (<code>--names</code> shows them).")
        + f" Grade them by hand on Gradescope (the autograder gives test {esc(ASSIGNMENT.by_hand)} no points); "
        '<a href="answers.csv">answers.csv</a> has a row per submission with blank score and comment columns.</p>'
        "<h2>Answered</h2><table><tr><th>group</th><th>count</th><th>words</th><th>answer</th>"
        "<th>submissions</th></tr>" + "\n".join(items) + "</table>"
        f"<h2>Empty answers ({len(empty)})</h2><p>{submitters(empty) or 'None.'}</p>"
        f"<h2>Not graded ({len(missing)})</h2><p>{submitters(missing) or 'None.'}</p>"
    )
    write(out / "answers.html", page(BY_HAND, body))


# -- the class
def _histogram(totals: list) -> str:
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(7, 2.8))
    axes = figure.add_subplot()
    top = int(max([MAX_POINTS, *totals]))
    axes.hist(totals, bins=[b - 0.5 for b in range(top + 2)], color="#4a7ab5", edgecolor="white")
    axes.set_xlabel("total score")
    axes.set_ylabel("submissions")
    axes.set_xticks(range(top + 1))
    cast(MaxNLocator, axes.yaxis.get_major_locator()).set_params(integer=True)  # an AutoLocator, whole numbers
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def _label(row: dict, results_by_id: dict) -> str:
    sub_id = row["submission_id"]
    name = f'<a href="{esc(sub_id)}/feedback.html">{esc(sub_id)}</a>' if sub_id in results_by_id else esc(sub_id)
    return f'{name} <span class="muted">{esc(who(row))}</span>'


def write_report(out: Path, rows: list, results_by_id: dict, version: str, changes=(), notice: str = "") -> None:
    graded = [r for r in rows if results_by_id.get(r["submission_id"]) and "not_graded" not in r["flags"]]
    totals = [float(r["total"]) for r in graded]
    parts = [
        f"<h1>{esc(ASSIGNMENT.title)} class report</h1><p><b>{len(rows)}</b> submissions, <b>{len(graded)}</b> graded, "
        f"<b>{len(rows) - len(graded)}</b> not graded. Grader version <code>{esc(version)}</code>. "
        f'<a href="grades.csv">grades.csv</a>, <a href="answers.html">{esc(BY_HAND)}</a>.</p>'
    ]
    if notice:  # this checkout's grader is not the one Gradescope ran: why, and the fix
        parts.append(
            f'<p class="warning"><b>Not the grader Gradescope ran.</b> {esc(notice.removeprefix("batch: "))}</p>'
        )
    parts.append(_lateness_and_by_hand(rows))
    if totals:
        parts.append(
            f"<h2>Score distribution</h2><p>out of {MAX_POINTS:g}: mean {statistics.mean(totals):.2f}, "
            f"median {statistics.median(totals):g}, full marks {sum(t >= MAX_POINTS for t in totals)}</p>"
            + _histogram(totals)
        )

    lines, causes = [], []
    for item in RUBRIC.values():
        tests = [(row, t, _tests(results_by_id, row)) for row in graded for t in _tests(results_by_id, row).values()
                 if t.get("number") == item.number]  # fmt: skip
        failed = [(row, t, all_) for row, t, all_ in tests if t in F.failed_tests({"tests": [t]})]
        if item.number == ASSIGNMENT.by_hand:  # what matters is whether there is an answer
            answered = len(tests) - len(failed)
            lines.append(
                f"<tr><td>{esc(item.number)}</td><td>{esc(item.name)}</td><td class=num>{item.points:g}</td>"
                f'<td class=num colspan=2>answered {answered}, empty {len(failed)} (<a href="answers.html">'
                "answers</a>)</td></tr>"
            )
            continue
        rate = f"{100 * (len(tests) - len(failed)) / len(tests):.0f}%" if tests else "–"
        lines.append(
            f"<tr><td>{esc(item.number)}</td><td>{esc(item.name)}</td><td class=num>{item.points:g}</td>"
            f"<td class=num>{len(tests) - len(failed)} / {len(tests)}</td><td class=num>{rate}</td></tr>"
        )
        if failed:
            grouped: dict = {}
            for row, test, all_ in failed:
                grouped.setdefault(F.first_cause(test, all_, item.number, ASSIGNMENT.cause), []).append(row)
            ordered = sorted(grouped.items(), key=lambda kv: -len(kv[1]))
            causes.append(
                f"<h3>{esc(item.number)} {esc(item.name)}: {len(failed)} failed</h3><table>"
                "<tr><th>count</th><th>cause (each failure once, under its first cause)</th><th>submissions</th></tr>"
                + "".join(
                    f"<tr><td class=num>{len(who_)}</td><td><code>{esc(cause)}</code></td>"
                    f"<td>{', '.join(_label(r, results_by_id) for r in who_)}</td></tr>"
                    for cause, who_ in ordered
                )
                + "</table>"
            )
    parts.append(
        "<h2>Rubric lines</h2><table><tr><th>number</th><th>check</th><th>points</th><th>passed</th>"
        "<th>pass rate</th></tr>" + "".join(lines) + "</table>"
    )
    parts.append("<h2>Most common failure causes</h2>" + ("".join(causes) or "<p>None.</p>"))
    parts.append(
        f"<h2>Changes ({len(changes)})</h2><p>Every score that differs from the previous grader version's run or "
        'from Gradescope\'s (also in <a href="changes.csv">changes.csv</a>).</p>'
        + (
            "<table><tr><th>submission</th><th>what</th><th>compared with</th><th>before</th><th>now</th></tr>"
            + "".join(
                f"<tr><td>{esc(c[0])} <span class=muted>{esc(c[1])}</span></td><td>{esc(c[2])}</td>"
                f"<td>{esc(c[3])}</td><td class=num>{esc(c[4])}</td><td class=num>{esc(c[5])}</td></tr>"
                for c in changes
            )
            + "</table>"
            if changes
            else "<p>None.</p>"
        )
    )

    flagged = [r for r in rows if r["flags"]]
    counts = Counter(f for r in flagged for f in r["flags"].split("; "))
    summary = ", ".join(f"{LABELS.get(f, f)}: {n}" for f, n in counts.most_common())
    parts.append(f"<h2>Flagged submissions ({len(flagged)})</h2><p>{esc(summary)}</p>")
    if flagged:
        parts.append(
            "<table><tr><th>submission</th><th>flags</th><th>details</th></tr>"
            + "".join(
                f"<tr><td>{_label(r, results_by_id)}</td><td>{flag_chips(r)}</td><td>"
                + "<br>".join(esc(d) for d in flag_details(r, results_by_id.get(r["submission_id"])))
                + _evidence(results_by_id.get(r["submission_id"]))
                + "</td></tr>"
                for r in flagged
            )
            + "</table>"
        )
    write(out / "report.html", page(f"{ASSIGNMENT.title} class report", "\n".join(parts)))


def _lateness_and_by_hand(rows: list) -> str:
    """Lateness (hours after the due date) and attempts from the export, and the answers scored by hand so far."""
    late = [float(r["lateness"]) for r in rows if _NUMERIC.fullmatch(r.get("lateness") or "") and float(r["lateness"])]
    timed = sum(1 for r in rows if _NUMERIC.fullmatch(r.get("lateness") or ""))
    past = sum(1 for r in rows if r.get("past_late_due"))
    attempts = [int(r["attempts"]) for r in rows if (r.get("attempts") or "").isdigit()]
    scored = [float(r["by_hand_score"]) for r in rows if _NUMERIC.fullmatch(r.get("by_hand_score") or "")]
    said = [
        f"Lateness: <b>{len(late)}</b> of {timed} submissions with a known time late"
        + (f" (up to {max(late):g} hours; {past} after the late due date)" if late else "")
        if timed
        else "Lateness: unknown (no due date: give DUE= and LATE_DUE= to make batch, or the export has no times)",
        f"attempts: up to {max(attempts)}, {sum(a > 1 for a in attempts)} submissions after earlier attempts"
        if attempts
        else "attempts: unknown",
        f"test {esc(ASSIGNMENT.by_hand)} graded by hand: <b>{len(scored)}</b> of {len(rows)} scored"
        + (f", mean {statistics.mean(scored):.2f}" if scored else "")
        + " (answers.csv's score column; <code>make merge-answers</code>)",
    ]
    return "<p>" + ". ".join(said) + ".</p>"


def _tests(results_by_id: dict, row: dict) -> dict:
    return {t.get("number"): t for t in (results_by_id.get(row["submission_id"]) or {}).get("tests", [])}


def flag_details(row: dict, results) -> list:
    """What each flag of a row rests on: the cell and the limit where the grader has them."""
    facts, default = F.facts_of(results), Settings()
    used = facts.get("limits")
    used = used if isinstance(used, dict) else {}

    def limit(key: str, value: float) -> str:  # the limit the grading used; the default only for older results
        number = used.get(key)
        return f"{number:g}" if isinstance(number, (int, float)) and not isinstance(number, bool) else f"{value:g}"

    cell = facts.get("first_failing_cell")
    at = f" (first failing cell: {cell})" if cell else ""
    details = {
        "identical": f"same code as {row['identical_to']}",
        "cell_timeout": f"a cell was stopped at the cell limit ({limit('cell_timeout', default.cell_timeout)} s){at}",
        "run_timeout": f"the run was stopped at the whole-run limit ({limit('total_timeout', default.total_timeout)} s)"
        f"{at}",
        "memory_limit": f"the memory limit ({limit('memory_mb', default.limits.memory_bytes // 2**20)} MB) was hit{at}",
        **{flag.code: flag.details for flag in ASSIGNMENT.flags},
        "not_graded": row["problems"] or "no results",
        "differs_from_gradescope": row.get("differs_from_gradescope", ""),
    }
    return [f"{LABELS.get(f, f)}: {details.get(f, '')}" for f in row["flags"].split("; ") if f] + (
        [row["problems"]] if row["problems"] and "not_graded" not in row["flags"] else []
    )


def _evidence(results) -> str:
    """The lines of the notebook each flag rests on (extra_data.evidence)."""
    evidence = F.facts_of(results).get("evidence")
    parts = []
    for code, lines in list((evidence if isinstance(evidence, dict) else {}).items())[:20]:
        lines = [str(line) for line in lines[:5]] if isinstance(lines, list) else []
        if lines:
            parts.append(f"<br>{esc(LABELS.get(code, code))}: <code>{'<br>'.join(map(esc, lines))}</code>")
    return "".join(parts)


# -- one student
def write_feedback(folder: Path, row: dict, results) -> None:
    """What the student saw on Gradescope, and the graded notebook (notebook.html from --ta-files) if there."""
    sub_id = row["submission_id"]
    parts = [
        f"<h1>{esc(sub_id)}: {esc(who(row))}</h1>",
        f'<p>{flag_chips(row)} <a href="../report.html">class report</a></p>',
    ]
    if results:
        facts = F.facts_of(results)
        score = results.get("score", sum(t.get("score", 0) for t in results.get("tests", [])))
        parts.append(
            f"<p><b>Score: {score:g} / {MAX_POINTS:g}</b> (this regrade). Notebook graded: "
            f"<code>{esc(facts.get('notebook') or '–')}</code>; grader version "
            f"<code>{esc(facts.get('grader_version') or '–')}</code>.</p>"
        )
        parts.append(_beside_gradescope(row, results))
        parts.append("<h2>This regrade, as Gradescope shows it</h2>" + markdown(results.get("output", "")))
        for test in results.get("tests", []):
            failed = bool(F.failed_tests({"tests": [test]}))
            hidden = test.get("visibility", "visible")
            note = f' <span class="muted">(visibility: {esc(hidden)})</span>' if hidden != "visible" else ""
            parts.append(
                f'<div class="test{" failed" if failed else ""}"><h3>{esc(test.get("number", ""))} '
                f'{esc(test.get("name", ""))}: {test.get("score", 0):g} / {test.get("max_score", 0):g}'
                f"{note}</h3>{markdown(test.get('output', ''))}</div>"
            )
    else:
        parts.append(f"<p><b>No results:</b> {esc(row['problems'])}</p>")
    notebook = folder / "notebook.html"
    if notebook.is_file():
        srcdoc = notebook.read_text(encoding="utf-8", errors="replace")
        parts.append(
            '<h2>The graded notebook</h2><p class="muted">Cells that did not finish normally, as the notebook\'s '
            'own process reported them, are marked in red. <a href="notebook.html">Open it alone</a>.</p>'
            f'<iframe sandbox title="graded notebook" srcdoc="{html.escape(srcdoc, quote=True)}"></iframe>'
        )
    else:
        parts.append(
            '<h2>The graded notebook</h2><p class="muted">Not available (not graded, or graded by a '
            "grader without --ta-files).</p>"
        )
    write(folder / "feedback.html", page(f"Feedback {sub_id}", "\n".join(parts)))


def _beside_gradescope(row: dict, results: dict) -> str:
    """Which result the student saw, and Gradescope's scores beside this regrade's, every difference marked."""
    if not row.get("gradescope_score"):
        return (
            "<p><b>The student saw Gradescope's result</b>, which the export does not include for this submission: "
            "this page shows the local regrade. With the same grader version and the course's secret they agree.</p>"
        )
    theirs = {**row.get("gradescope_tests", {}), "total": row["gradescope_score"]}
    ours = {t.get("number"): f"{t.get('score', 0):g}" for t in results.get("tests", [])}
    ours["total"] = row.get("total", "")
    lines = "".join(
        f"<tr{' class=differs' if theirs.get(k) and theirs[k] != ours.get(k) else ''}><td>{esc(k)}</td>"
        f"<td class=num>{esc(theirs.get(k, '–'))}</td><td class=num>{esc(ours.get(k, '–'))}</td>"
        f"<td>{'<b>differs</b>' if theirs.get(k) and theirs[k] != ours.get(k) else ''}</td></tr>"
        for k in [*RUBRIC, "total"]
        if k in theirs or k in ours
    )
    verdict = (
        "<b>differs from this regrade</b> (marked below)"
        if row.get("differs_from_gradescope")
        else "agrees with this regrade"
    )
    return (
        f"<p><b>The student saw Gradescope's result: {esc(row['gradescope_score'])} / {MAX_POINTS:g}</b>, which "
        f"{verdict}.</p><table><tr><th>test</th><th>Gradescope (what the student saw)</th><th>this regrade</th>"
        "<th></th></tr>" + lines + "</table>"
    )
