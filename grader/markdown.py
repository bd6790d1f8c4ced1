"""Student-derived text made inert: for results.json (Markdown, rendered by Gradescope) and for the TA's terminal.

Every function takes any value (non-strings are shown with `str`), never raises, and runs in linear time.
Normalisations shared by all of them: lone surrogates become U+FFFD (results.json stays strict UTF-8), "\\r\\n"
and "\\r" become "\\n", control characters (C0 except \\n and \\t, DEL, C1) and Unicode bidi controls are removed.
"""

import re

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BACKTICKS = re.compile("`+")
# CommonMark's specials, GFM's (`|` tables, `~` strikethrough) and math delimiters; `.` and `)` for "1." / "1)".
_ESCAPED = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()<>#+-.!|~=&\"'$^"})
# ESC sequences: CSI (ESC [ or 8-bit 0x9b) params, intermediates, final byte; OSC/DCS/SOS/PM/APC strings up to
# BEL or ST (when unterminated: up to the next ESC or line end); any other two-byte ESC sequence. No nested
# quantifiers: the character classes that follow one another are disjoint, so each match is linear.
_ESCAPE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)


def _text(value, escapes: bool = False) -> str:
    if not isinstance(value, str):
        try:
            value = str(value)
        except Exception:  # noqa: BLE001  -- a student's object whose __str__ raises
            return ""
    value = _SURROGATE.sub("\ufffd", value)
    if escapes:  # the whole sequence, not only its ESC: "[2J" left behind would still be noise
        value = _ESCAPE.sub("", value)
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _BIDI.sub("", _CONTROL.sub("", value))


def _longest_backtick_run(text: str) -> int:
    return max(map(len, _BACKTICKS.findall(text)), default=0)


def inline_code(text) -> str:
    """A code span showing `text` on one line (each run of whitespace, newlines included, becomes one space, as
    HTML shows it anyway); nothing in it can close it."""
    text = " ".join(_text(text).split())
    fence = "`" * (_longest_backtick_run(text) + 1)
    # CommonMark strips one space each side when both are there: padding keeps a backtick at either end apart
    # from the fence, and makes the empty span a span.
    pad = " " if not text or text[0] == "`" or text[-1] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(text, info: str = "") -> str:
    """A fenced code block showing `text` verbatim; its fence is longer than any backtick run inside (tildes
    cannot close a backtick fence). `info` keeps only letters, digits and `+-_.`."""
    text = _text(text)
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    info = "".join(c for c in _text(info) if c.isascii() and (c.isalnum() or c in "+-_."))[:30]
    if not text.endswith("\n"):
        text += "\n"
    return f"{fence}{info}\n{text}{fence}"


_SPAN = re.compile("(?<!`)`([^`\n]+)`(?!`)")


def with_code(text) -> str:
    """Like `plain`, except that each `span` in single backticks becomes a code span (for the runner's notes, which
    quote the student's code that way)."""
    text, out, end = _text(text), [], 0
    for match in _SPAN.finditer(text):
        before = text[end : match.start()]
        out += [plain(before) if not end else plain("x" + before)[1:], inline_code(match.group(1))]  # "x": mid-line
        end = match.end()
    return plain(text) if not out else "".join(out) + plain("x" + text[end:])[1:]


def plain(text) -> str:
    """Markdown that renders as exactly `text`: every character with a meaning in Markdown is backslash-escaped,
    and the leading whitespace of each line is written as character references (four spaces would start a code
    block, and a paragraph drops them). Line breaks stay soft breaks; a blank line starts a new paragraph."""
    out = []
    for line in _text(text).split("\n"):
        body = line.lstrip(" \t")
        lead = line[: len(line) - len(body)] if body else ""  # a blank line stays blank: a paragraph break
        out.append(lead.replace(" ", "&#32;").replace("\t", "&#9;") + body.translate(_ESCAPED))
    return "\n".join(out)


def quoted(text) -> str:
    """A blockquote of `plain(text)`, every line marked, for showing a student's answer."""
    return "\n".join(f"> {line}" if line else ">" for line in plain(text).split("\n"))


def terminal_safe(text) -> str:
    """Text for the TA's terminal: no escape sequences, no control characters but \\n and \\t, no bidi controls."""
    return _text(text, escapes=True)
