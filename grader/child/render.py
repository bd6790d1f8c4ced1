"""The graded notebook as one self-contained HTML page, for the course staff (`--ta-files`).

Runs in the child: only confined processes parse student files. The page is still untrusted (the TA tools show
it in a sandboxed iframe): nbconvert sanitizes Markdown, raw cells and outputs (scripts and unknown output types
are dropped), the template loads nothing, and images from anywhere but the notebook itself are not loaded.
"""

import copy
import html

import bleach
import jinja2
from nbconvert import HTMLExporter

# The "basic" template is the notebook's body only: no MathJax, RequireJS or fonts from a CDN.
TEMPLATE = """{%- extends 'basic/index.html.j2' -%}
{% block codecell %}
{%- if cell.metadata.a0_failed is defined %}
<div class="a0-failed" id="a0-cell-{{ cell.metadata.a0_number }}">cell {{ cell.metadata.a0_number }} did not finish
normally: {{ cell.metadata.a0_failed | escape }}</div>
{%- endif %}
<div class="a0-cell{{ ' a0-failed-cell' if cell.metadata.a0_failed is defined else '' }}">
<div class="a0-number">code cell {{ cell.metadata.a0_number }}</div>
{{ super() }}
</div>
{%- endblock codecell %}
"""

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1em auto; max-width: 60em; padding: 0 1em; color: #222; }
pre, code { font: 12.5px/1.4 ui-monospace, monospace; }
.input_area { background: #f6f6f6; border: 1px solid #ddd; padding: 0 .5em; overflow-x: auto; }
.output_area pre, .output_subarea { overflow-x: auto; }
.prompt { display: none; }
.a0-cell { margin: .6em 0; }
.a0-number { color: #888; font-size: 11px; }
.a0-failed-cell .input_area { border: 2px solid #c00; }
.a0-failed { margin-top: 1em; padding: .3em .5em; background: #fdd; color: #800; font-weight: 600; }
.output_stderr, .output_error pre { background: #fff3f3; }
img { max-width: 100%; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 2px 6px; }
"""

# No scripts, nothing from the network; images only from data: URIs; styles inline.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

# nbconvert's own clean_html keeps only bleach's inline tags and so shows every paragraph and heading of a
# Markdown cell as escaped <p>, <h2>: this one keeps the structure. Anything else (a <script>) is shown as text.
TAGS = {
    *bleach.ALLOWED_TAGS,
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "div",
    "span",
    "pre",
    "img",
    "table",
    "thead",
    "tbody",
    "tr",
    "td",
    "th",
    "sub",
    "sup",
    "del",
    "s",
    "dl",
    "dt",
    "dd",
}


def _attribute(tag, name, value):
    if tag == "img" and name == "src":
        return value.startswith("data:image/")  # images the notebook carries; none from the network
    return name in ("class", "id", "title", "alt") or (tag == "a" and name == "href")


def _clean(element) -> str:
    text = element.decode() if isinstance(element, bytes) else str(element)
    return bleach.clean(
        text,
        tags=TAGS,
        attributes=_attribute,
        protocols={"http", "https", "mailto", "data"},
        strip=False,
        strip_comments=True,
    )


class _Exporter(HTMLExporter):
    def _validate_preprocessor(self, nbc, preprocessor) -> None:
        """nbconvert validates the whole notebook again after each of its dozen preprocessors: half the time of a
        rendering (0.5 s -> 0.26 s for the solution). It was read and validated once; the preprocessors here only
        coalesce streams, highlight and sanitize."""


def render_notebook(nb, failed: dict) -> str:
    """`nb`: an nbformat v4 NotebookNode; `failed`: {code cell number (1-based among code cells): reason}."""
    nb = copy.deepcopy(nb)
    number = 0
    for cell in nb.cells:
        cell.metadata.pop("a0_failed", None)  # the notebook's own metadata must not fake a mark
        cell.metadata.pop("a0_number", None)
        if cell.cell_type == "code":
            number += 1
            cell.metadata["a0_number"] = number
            if number in failed:
                cell.metadata["a0_failed"] = str(failed[number])
    exporter = _Exporter(
        template_file="a0.html.j2",
        extra_loaders=[jinja2.DictLoader({"a0.html.j2": TEMPLATE})],
        sanitize_html=True,
        embed_images=True,
        exclude_anchor_links=True,
        filters={"clean_html": _clean},
    )
    body, _ = exporter.from_notebook_node(nb)
    marks = "".join(
        f'<li><a href="#a0-cell-{n}">cell {n}</a>: {html.escape(str(reason))}</li>'
        for n, reason in sorted(failed.items())
    )
    index = f"<p><b>Cells that did not finish normally:</b></p><ul>{marks}</ul>" if marks else ""
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>Graded notebook</title><style>{CSS}</style></head>\n<body>{index}\n{body}\n</body></html>\n"
    )
