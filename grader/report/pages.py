"""The course staff's pages: answers.html/.csv (Exercise 3), report.html (the class), <id>/feedback.html.

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

from markdown_it import MarkdownIt

from ..rubric import RUBRIC
from . import flags as F

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-src 'self'"
CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1em auto; max-width: 72em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1em; } td, th { border: 1px solid #ccc; padding: 3px 8px;
  vertical-align: top; text-align: left; }
th { background: #f0f0f0; } .num { text-align: right; } .muted { color: #777; }
.answer { white-space: pre-wrap; font-family: ui-serif, Georgia, serif; max-width: 48em; }
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
        f'<span class="flag">{esc(F.LABELS.get(f, f))} '
        f"<small>({esc(F.SEEN_BY.get(seen.get(f), F.SEEN_BY['parent']))})</small></span>"
        for f in row["flags"].split("; ")
        if f
    )


# -- Exercise 3
def exercise3(results) -> dict:
    """{"answer": text or None, "images": [file names]}: extra_data.exercise3, or, from a grader that does not
    write it yet, the answer quoted in test 3's output."""
    found = F.facts_of(results).get("exercise3")
    if isinstance(found, dict):
        images = [n for n in found.get("images") or [] if isinstance(n, str) and _ANSWER_IMAGE.fullmatch(n)]
        answer = found.get("answer")
        return {"answer": answer if isinstance(answer, str) else None, "images": images}
    test = next((t for t in (results or {}).get("tests", []) if t.get("number") == "3"), None)
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


def _spreadsheet_safe(text: str) -> str:
    """A cell starting with = + - @ is a formula to Excel and Sheets (CSV injection): prefix it with '."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_answers(out: Path, rows: list, results_by_id: dict) -> None:
    entries = []
    for row in rows:
        found = exercise3(results_by_id.get(row["submission_id"]))
        entries.append((row, found))
    with open(out / "answers.csv.tmp", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission_id", "names", "sids", "emails", "answer", "images"])
        for row, found in entries:
            images = "; ".join(f"{row['submission_id']}/{name}" for name in found["images"])
            writer.writerow(
                [
                    row["submission_id"],
                    row["names"],
                    row["sids"],
                    row["emails"],
                    _spreadsheet_safe(found["answer"] or ""),
                    images,
                ]
            )
    os.replace(out / "answers.csv.tmp", out / "answers.csv")

    items = []
    for row, found in entries:
        sub_id = row["submission_id"]
        if found["answer"]:
            answer = f'<div class="answer">{esc(found["answer"])}</div>'
        elif row["flags"] and "not_graded" in row["flags"]:
            answer = f'<p class="muted">not graded: {esc(row["problems"])}</p>'
        else:
            answer = '<p class="muted">no answer</p>'
        for name in found["images"]:
            uri = _png(out / sub_id / name)
            answer += (
                f'<img class="answer-image" alt="{esc(name)}" src="{uri}">'
                if uri
                else f'<p class="muted">image {esc(name)} is missing</p>'
            )
        link = f'<br><a href="{esc(sub_id)}/feedback.html">feedback</a>' if sub_id in results_by_id else ""
        items.append(
            f'<tr id="{esc(sub_id)}"><td>{esc(sub_id)}{link}'
            f'</td><td>{esc(who(row))}<br><span class="muted">{esc(row["sids"])}</span></td>'
            f"<td>{answer}</td></tr>"
        )
    body = (
        f"<h1>Exercise 3 answers</h1><p>{len(rows)} submissions, in submission order. Grade them by hand on "
        "Gradescope (the autograder gives Exercise 3 no points).</p>"
        "<table><tr><th>submission</th><th>submitters</th><th>answer</th></tr>" + "\n".join(items) + "</table>"
    )
    write(out / "answers.html", page("Exercise 3 answers", body))


# -- the class
def _histogram(totals: list) -> str:
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    figure = Figure(figsize=(7, 2.8))
    axes = figure.add_subplot()
    top = int(max([MAX_POINTS, *totals]))
    axes.hist(totals, bins=[b - 0.5 for b in range(top + 2)], color="#4a7ab5", edgecolor="white")
    axes.set_xlabel("total score")
    axes.set_ylabel("submissions")
    axes.set_xticks(range(top + 1))
    axes.yaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def _label(row: dict, results_by_id: dict) -> str:
    sub_id = row["submission_id"]
    name = f'<a href="{esc(sub_id)}/feedback.html">{esc(sub_id)}</a>' if sub_id in results_by_id else esc(sub_id)
    return f'{name} <span class="muted">{esc(who(row))}</span>'


def write_report(out: Path, rows: list, results_by_id: dict, version: str) -> None:
    graded = [r for r in rows if results_by_id.get(r["submission_id"]) and "not_graded" not in r["flags"]]
    totals = [float(r["total"]) for r in graded]
    parts = [
        f"<h1>A0 class report</h1><p><b>{len(rows)}</b> submissions, <b>{len(graded)}</b> graded, "
        f"<b>{len(rows) - len(graded)}</b> not graded. Grader version <code>{esc(version)}</code>. "
        '<a href="grades.csv">grades.csv</a>, <a href="answers.html">Exercise 3 answers</a>.</p>'
    ]
    if totals:
        parts.append(
            f"<h2>Score distribution</h2><p>out of {MAX_POINTS:g}: mean {statistics.mean(totals):.2f}, "
            f"median {statistics.median(totals):g}, full marks {sum(t >= MAX_POINTS for t in totals)}</p>"
            + _histogram(totals)
        )

    lines, causes = [], []
    for item in RUBRIC.values():
        tests = [
            (row, t)
            for row in graded
            for t in results_by_id[row["submission_id"]]["tests"]
            if t.get("number") == item.number
        ]
        failed = [(row, t) for row, t in tests if t in F.failed_tests({"tests": [t]})]
        rate = f"{100 * (len(tests) - len(failed)) / len(tests):.0f}%" if tests else "–"
        lines.append(
            f"<tr><td>{esc(item.number)}</td><td>{esc(item.name)}</td><td class=num>{item.points:g}</td>"
            f"<td class=num>{len(tests) - len(failed)} / {len(tests)}</td><td class=num>{rate}</td></tr>"
        )
        if failed:
            grouped = {}
            for row, test in failed:
                grouped.setdefault(F.cause_of(test.get("output", "")), []).append(row)
            ordered = sorted(grouped.items(), key=lambda kv: -len(kv[1]))
            causes.append(
                f"<h3>{esc(item.number)} {esc(item.name)}: {len(failed)} failed</h3><table>"
                "<tr><th>count</th><th>cause (first line of the test's output)</th><th>submissions</th></tr>"
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

    flagged = [r for r in rows if r["flags"]]
    counts = Counter(f for r in flagged for f in r["flags"].split("; "))
    summary = ", ".join(f"{F.LABELS.get(f, f)}: {n}" for f, n in counts.most_common())
    parts.append(f"<h2>Flagged submissions ({len(flagged)})</h2><p>{esc(summary)}</p>")
    if flagged:
        parts.append(
            "<table><tr><th>submission</th><th>flags</th><th>details</th></tr>"
            + "".join(
                f"<tr><td>{_label(r, results_by_id)}</td><td>{flag_chips(r)}</td><td>"
                + (f"same code as {esc(r['identical_to'])}<br>" if r["identical_to"] else "")
                + f"{esc(r['problems'])}"
                + _evidence(results_by_id.get(r["submission_id"]))
                + "</td></tr>"
                for r in flagged
            )
            + "</table>"
        )
    write(out / "report.html", page("A0 class report", "\n".join(parts)))


def _evidence(results) -> str:
    """The lines of the notebook on which the reader based its flags."""
    parts = []
    for key, label in (("autograd_evidence", "autograd in backprop"), ("grader_evidence", "reaching into the grader")):
        lines = [str(line) for line in F.facts_of(results).get(key) or []][:5]
        if lines:
            parts.append(f"<br>{label}: <code>{'<br>'.join(map(esc, lines))}</code>")
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
            f"<p><b>Score: {score:g} / {MAX_POINTS:g}</b> (autograder). Notebook graded: "
            f"<code>{esc(facts.get('notebook') or '–')}</code>; grader version "
            f"<code>{esc(facts.get('grader_version') or '–')}</code>.</p>"
        )
        parts.append("<h2>What the student saw on Gradescope</h2>" + markdown(results.get("output", "")))
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
