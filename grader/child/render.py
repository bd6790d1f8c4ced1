"""The graded notebook's body as HTML, for the course staff (`--ta-files`).

Runs in the reader: only confined processes parse student files. The body is still untrusted: nbconvert sanitizes
Markdown, raw cells and outputs (scripts and unknown output types are dropped), the template loads nothing, and
images from anywhere but the notebook itself are not loaded. The parent puts it in its own page (its head, with the
restrictive CSP: grader/sandbox/ta_files.py) and marks the cells the runner reported as failed at each cell's
slot, `<!--a0-slot-N-->` (comments from the notebook are stripped, so only the template writes one).
"""

import copy

import bleach
import jinja2
from nbconvert import HTMLExporter

# The "basic" template is the notebook's body only: no MathJax, RequireJS or fonts from a CDN.
TEMPLATE = """{%- extends 'basic/index.html.j2' -%}
{% block codecell %}
<!--a0-slot-{{ cell.metadata.a0_number }}-->
<div class="a0-cell">
<div class="a0-number">code cell {{ cell.metadata.a0_number }}</div>
{{ super() }}
</div>
{%- endblock codecell %}
"""

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


def render_notebook(nb) -> str:
    """`nb`: an nbformat v4 NotebookNode. Its code cells are numbered 1-based, as the runner numbers them."""
    nb = copy.deepcopy(nb)
    number = 0
    for cell in nb.cells:
        cell.metadata.pop("a0_number", None)  # the notebook's own metadata must not fake a number
        if cell.cell_type == "code":
            number += 1
            cell.metadata["a0_number"] = number
    exporter = _Exporter(
        template_file="a0.html.j2",
        extra_loaders=[jinja2.DictLoader({"a0.html.j2": TEMPLATE})],
        sanitize_html=True,
        embed_images=True,
        exclude_anchor_links=True,
        filters={"clean_html": _clean},
    )
    body, _ = exporter.from_notebook_node(nb)
    return body
