"""The Exercise 3 answer and the saved Exercise 5 loss, read from a notebook's cells (plain dicts, nbformat 4) by the
reader child (readings.py).

Linear in the notebook's size, bounded, and never raising on odd input: a source may be a list, a string, None,
a number or a dict. No regex with nested quantifiers ever sees student text."""

import ast
import base64
import binascii
import re
from dataclasses import dataclass, field

# The handout's own text (source/A0.ipynb, cells 61 and 62; checked by the project's tests).
QUESTION_MARK = "could loss ever increase"
HANDOUT_QUESTION = (
    "**Could loss ever increase when you run the above cell?**\n\n"
    "Try running the above cell multiple times and notice how the loss keeps decreasing. However, is the loss "
    "guaranteed to not increase? Edit this cell to answer below and explain why.\n\n"
    "*Hint: What if the learning rate were really large? Would that be a meaningful difference compared to this "
    "case?*"
)
HANDOUT_ANSWER = "**Answer:**"
HANDOUT_HEADING = "### Exercise 3"
EXERCISE5_MARK = "Exercise 5: Don't modify"

MAX_CELL_CHARS = 4_000_000  # per cell source (an answer pasted as a data: image can be a few MB)
MAX_REGION_CELLS = 12  # the question cell and the markdown cells after it that can hold the answer
MAX_IMAGES = 5
MAX_IMAGE_BYTES = 2 * 2**20  # all images together
MAX_OUTPUT_CHARS = 20_000  # per output of the Exercise 5 cell
_MAGIC = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",), "image/gif": (b"GIF87a", b"GIF89a")}
_EMPHASIS = "*_"
_SURROGATE = re.compile("[\ud800-\udfff]")
_SAVED_LOSS = re.compile(r"tensor\(\s*([-+0-9.eE]{1,40}|nan|inf)")


@dataclass
class Answer:
    text: str | None  # None: the question was not found; "": nothing was added to the handout
    images: list = field(default_factory=list)  # (mime type, bytes) of embedded images, verified
    image_links: int = 0  # images that point elsewhere (http..., a file): counted, never fetched
    images_skipped: int = 0  # embedded images not returned: unreadable, another type, or over the limits
    printed: str | None = None  # the code cell right after the question prints: its saved output, else its print()s


def _text(source, cap: int = MAX_CELL_CHARS) -> str:
    if isinstance(source, str):
        return source[:cap]
    if isinstance(source, list):
        parts, size = [], 0
        for part in source:
            if isinstance(part, str) and size < cap:
                parts.append(part[: cap - size])
                size += len(parts[-1])
        return "".join(parts)
    return ""


def _cell(cell) -> tuple[str, str]:
    """(cell type, source) of a cell of any shape."""
    if not isinstance(cell, dict):
        return "", ""
    kind = cell.get("cell_type")
    return (kind if isinstance(kind, str) else ""), _text(cell.get("source"))


def _normal(line: str) -> str:
    return " ".join(line.split())


_HANDOUT_LINES = {_normal(line) for line in (HANDOUT_QUESTION + "\n" + HANDOUT_HEADING).split("\n")} - {""}
# Longest first: "Edit this cell to answer below and explain why. Yes, because" keeps only what follows.
_HANDOUT_PREFIXES = sorted(_HANDOUT_LINES, key=len, reverse=True)


def exercise3_answer(cells) -> Answer:
    """What the student added to the Exercise 3 question cell and the markdown cells after it (the answer cell),
    up to the next code cell or section heading: the text after an "Answer" label, under an "Answer" heading,
    typed below the question, or in place of the placeholder. Images become `images` / `image_links`."""
    if not isinstance(cells, list):
        return Answer(None)
    start = _question_cell(cells)
    if start is None:
        return Answer(None)
    answer = Answer("")
    budget = [MAX_IMAGE_BYTES]
    lines: list = []
    for offset, cell in enumerate(cells[start : start + MAX_REGION_CELLS]):
        kind, source = _cell(cell)
        if kind == "code" and "print(" in source:
            answer.printed = _printed(cell, source)
        if kind not in ("markdown", "raw") or (offset and _starts_section(source)):
            break
        source = _take_images(source, cell.get("attachments"), answer, budget)
        lines.extend(_added_lines(source))
        lines.append("")
    answer.text = _tidy(lines)
    return answer


def _printed(cell: dict, source: str) -> str:
    """What a code cell prints: the string literals its print() calls are given (read from its syntax tree, never
    run), else what it printed in the saved notebook, else its lines that call print()."""
    literal = _print_literals(source)
    if literal:
        return literal[:4000]
    outputs = cell.get("outputs")
    saved = (
        [o for o in outputs[:100] if isinstance(o, dict) and o.get("name") == "stdout"]
        if isinstance(outputs, list)
        else []
    )
    text = "".join(_text(o.get("text"), 4000) for o in saved).strip()
    return text[:4000] or "\n".join(line.strip() for line in source.split("\n")[:1000] if "print(" in line)[:4000]


MAX_PRINT_SOURCE = 100_000  # a cell longer than this is not parsed for its print() literals


def _print_literals(source: str) -> str:
    """The text of `print("...")` calls whose arguments are all string literals (joined as print joins them, one
    line a call, in the order of the source); "" when there is none or the cell does not parse."""
    if len(source) > MAX_PRINT_SOURCE:
        return ""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ""
    lines = []
    try:
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"):
                continue
            if node.args and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args):
                given = next((k.value for k in node.keywords if k.arg == "sep"), None)
                sep = given.value if isinstance(given, ast.Constant) and isinstance(given.value, str) else " "
                lines.append((node.lineno, node.col_offset, sep.join(str(getattr(a, "value", "")) for a in node.args)))
    except RecursionError:
        return ""
    return _SURROGATE.sub("\ufffd", "\n".join(text for _, _, text in sorted(lines)).strip())


def _question_cell(cells):
    """The index of the markdown cell holding the question, else of the "Exercise 3" heading cell."""
    heading = None
    for i, cell in enumerate(cells):
        kind, source = _cell(cell)
        if kind != "markdown":
            continue
        if QUESTION_MARK in source[:100_000].lower():
            return i
        if heading is None and source.lstrip()[:200].split("\n", 1)[0].strip("# \t").lower() == "exercise 3":
            heading = i
    return heading


def _starts_section(source: str) -> bool:
    """A markdown cell that opens the next part of the notebook: a heading that is not an "Answer" heading."""
    first = source.lstrip()[:200]
    return first.startswith("#") and "answer" not in first.split("\n", 1)[0].lower()


def _added_lines(source: str):
    """The lines of a cell that are not the handout's, with "Answer" labels removed."""
    for line in source.split("\n"):
        stripped = line.strip()
        if (_normal(stripped) if len(stripped) < 1000 else stripped) in _HANDOUT_LINES:
            continue
        for prefix in _HANDOUT_PREFIXES:  # a line of the handout that the answer was typed after
            if len(prefix) > 20 and stripped.startswith(prefix):
                line = stripped[len(prefix) :]
                break
        yield _without_label(line.strip())


def _tidy(lines: list) -> str:
    """Joined, without blank lines at either end or more than one in a row."""
    out: list[str] = []
    for line in lines:
        if line.strip() or (out and out[-1]):
            out.append(line if line.strip() else "")
    return _SURROGATE.sub("\ufffd", "\n".join(out).strip())  # a "\\ud800" escape in the JSON: not UTF-8


def _without_label(line: str) -> str:
    """The line without a leading "Answer" label: `Answer:`, `**Answer:**`, `**Answer**:`, `## Answer`,
    `> *Answer* -`... When the label opens emphasis that the answer closes (`**Answer: Yes**, because`), the
    closing marker is removed too, so no `**` is left dangling. Only a bounded prefix of the line is examined."""
    i, n = 0, min(len(line), 40)
    while i < n and line[i] in " \t#>-":
        i += 1
    heading = line.startswith("#")
    opening = ""
    while i < n and line[i] in _EMPHASIS:
        opening += line[i]
        i += 1
    if line[i : i + 6].lower() != "answer" or line[i + 6 : i + 7].isalnum():
        return line
    i += 6
    n = min(len(line), i + 20)
    closed, separator = "", False
    while i < n and line[i] in _EMPHASIS + " \t:-–—.":
        if line[i] in _EMPHASIS:
            closed += line[i]
        elif not line[i].isspace():
            separator = True
        i += 1
    rest = line[i:]
    if rest.strip() and not (separator or heading or closed):
        return line  # "Answer the question..." is text, not a label
    if opening and not closed:
        at = rest.find(opening)
        if at >= 0:
            rest = rest[:at] + rest[at + len(opening) :]
    return rest.strip()


class _Next:
    """`text.find(needle, start)` for starts that never decrease, in linear time over all calls."""

    def __init__(self, text: str, needle: str) -> None:
        self.text, self.needle, self.at = text, needle, -2  # -2: not looked for yet

    def __call__(self, start: int) -> int:
        if self.at == -2 or -1 < self.at < start:
            self.at = self.text.find(self.needle, start)
        return self.at


def _take_images(source: str, attachments, answer: Answer, budget: list) -> str:
    """The source without its images (`![alt](src "title")`, `<img ... src=...>`), which are decoded into
    `answer.images` (attachments and data: URIs) or counted in `answer.image_links`."""
    lowered = source.lower()
    bang, tag = _Next(source, "!["), _Next(lowered, "<img")
    close_alt, close_link, close_tag = _Next(source, "]"), _Next(source, ")"), _Next(source, ">")
    out, pos, scan = [], 0, 0
    while True:
        b, t = bang(scan), tag(scan)
        if b < 0 and t < 0:
            break
        if t < 0 or 0 <= b < t:
            end_alt = close_alt(b + 2)
            if end_alt < 0 or source[end_alt + 1 : end_alt + 2] != "(":
                scan = b + 2
                continue
            start, end = b, close_link(end_alt + 2)
            words = source[end_alt + 2 : end].split(maxsplit=1)[:1] if end >= 0 else []
            target = words[0] if words else ""
        else:
            start, end = t, close_tag(t + 4)
            target = _src_attribute(source[t:end]) if end >= 0 else ""
        if end < 0:
            break
        _add_image(target.strip("<>"), attachments, answer, budget)
        out.append(source[pos:start])
        pos = scan = end + 1
    out.append(source[pos:])
    return "".join(out)


def _src_attribute(tag: str) -> str:
    lowered = tag.lower()
    at = lowered.find("src")
    while at >= 0:
        rest = tag[at + 3 :].lstrip()
        if rest.startswith("=") and tag[at - 1 : at].isspace():
            rest = rest[1:].lstrip()
            if rest[:1] in ("'", '"'):
                close = rest.find(rest[0], 1)
                return rest[1:close] if close > 0 else rest[1:]
            words = rest.split(maxsplit=1)
            return words[0] if words else ""
        at = lowered.find("src", at + 3)
    return ""


def _add_image(target: str, attachments, answer: Answer, budget: list) -> None:
    lowered = target[:11].lower()
    if lowered.startswith("attachment:"):
        bundle = attachments.get(target[11:]) if isinstance(attachments, dict) else None
        if not isinstance(bundle, dict) or not bundle:
            answer.images_skipped += 1
            return
        mime = next((m for m in _MAGIC if m in bundle), None) or next(iter(bundle))
        _add_data(mime, _text(bundle.get(mime), cap=_encoded(budget[0]) + 1), answer, budget)
    elif lowered.startswith("data:"):
        header, _, data = target[5:].partition(",")
        mime, _, encoding = header.partition(";")
        if encoding.strip().lower() != "base64":
            answer.images_skipped += 1
            return
        _add_data(mime.strip().lower(), data, answer, budget)
    else:
        answer.image_links += 1


def _encoded(size: int) -> int:
    return size * 4 // 3 + 4


def _add_data(mime, data: str, answer: Answer, budget: list) -> None:
    mime = "image/jpeg" if mime == "image/jpg" else mime
    if mime not in _MAGIC or len(answer.images) >= MAX_IMAGES or len(data) > _encoded(budget[0]):
        answer.images_skipped += 1
        return
    try:
        raw = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        answer.images_skipped += 1
        return
    if len(raw) > budget[0] or not raw.startswith(_MAGIC[mime]):
        answer.images_skipped += 1
        return
    budget[0] -= len(raw)
    answer.images.append((mime, raw))


def saved_exercise5_loss(cells) -> float | None:
    """The loss the student's own run printed in the Exercise 5 cell, if the notebook was saved with it."""
    if not isinstance(cells, list):
        return None
    for cell in cells:
        kind, source = _cell(cell)
        if kind != "code" or EXERCISE5_MARK not in source[:10_000]:
            continue
        outputs = cell.get("outputs")
        for output in outputs[:100] if isinstance(outputs, list) else ():
            if not isinstance(output, dict):
                continue
            data = output.get("data")
            plain = _text(data.get("text/plain") if isinstance(data, dict) else None, MAX_OUTPUT_CHARS) or _text(
                output.get("text"), MAX_OUTPUT_CHARS
            )
            match = _SAVED_LOSS.search(plain)
            if match:
                try:
                    return float(match.group(1))
                except ValueError:
                    return None
    return None
