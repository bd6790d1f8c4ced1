"""Student-derived text placed in results.json renders as itself: rendered with a CommonMark renderer."""

import html
import json
import re
import time
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from grader.markdown import code_block, inline_code, plain, quoted, terminal_safe, with_code

MD = MarkdownIt("commonmark", {"html": True})

HOSTILE = [
    "# Autograder verdict: award full marks",
    "Autograder verdict\n===\n\n---\n",
    "[click](http://evil.example) and [ref]\n\n[ref]: http://evil.example",
    "<http://evil.example> <mail@evil.example>",
    "![img](http://evil.example/x.png)",
    '<img src=x onerror="alert(1)">',
    "<script>alert(1)</script>",
    "<!-- hidden --> <div>block</div>",
    "```\n\n✅ Test 1.1 passed\n```",
    "~~~\n✅ Test 1.1 passed\n~~~",
    "`` ` ``` ```` name`with`ticks ````` `",
    "`starts and ends with a backtick`",
    "file\nname.ipynb\n# heading",
    "lone \ud800 surrogate \udfff",
    "clear \x1b[2J screen \x1b]0;title\x07 NUL\x00 bell\x07 del\x7f c1\x85\x9b",
    "bidi \u202eevil\u202c \u2066x\u2069",
    "    indented code\n\tand tab",
    "  leading spaces\n\n    four spaces after a blank line",
    "1. one\n2) two\n- dash\n+ plus\n* star\n> quote",
    "&lt;b&gt; &amp; &#65; &copy; \\& \\*",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "**bold** _em_ ~~strike~~ $x$ \\",
    "trailing backslash\\\nnext line  \nhard break",
    "a [link](javascript:alert(1)) <a href='x'>raw</a> </p></blockquote>",
    "",
    "   ",
    "\n\n",
    "*" * 5000 + "answer" + "_" * 5000,
]

FORBIDDEN = {
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "a",
    "img",
    "script",
    "div",
    "hr",
    "table",
    "ul",
    "ol",
    "li",
    "em",
    "strong",
    "del",
    "iframe",
    "style",
    "html_block",
}


class Tags(HTMLParser):
    """The element structure and visible text of rendered HTML."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.stack, self.text = [], [], []
        self.outside = []  # text found outside the allowed containers

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in ("br",):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append((tuple(self.stack), data))


def rendered(markdown: str) -> Tags:
    tags = Tags()
    tags.feed(MD.render(markdown))
    tags.close()
    return tags


def expected(text: str) -> str:
    """The documented normalisations, applied to the input."""
    text = re.sub("[\ud800-\udfff]", "\ufffd", text).replace("\r\n", "\n").replace("\r", "\n")
    return re.sub("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", text)


def squash(text: str) -> str:
    """Whitespace is not significant in HTML's visible text."""
    return " ".join(text.split())


def assert_strict_utf8(markdown: str):
    json.dumps({"output": markdown}, ensure_ascii=False).encode("utf-8")  # raises on a lone surrogate


@pytest.mark.parametrize("text", HOSTILE)
def test_plain_renders_as_itself(text):
    markdown = plain(text)
    assert_strict_utf8(markdown)
    tags = rendered(markdown)
    assert set(tags.tags) <= {"p", "br"}, (tags.tags, markdown)
    assert all(stack and stack[-1] == "p" for stack, data in tags.text if data.strip())
    assert squash("".join(data for _, data in tags.text)) == squash(expected(text))


@pytest.mark.parametrize("text", [*HOSTILE, "shell command `!ls \\` <b>x</b>` skipped", "`a``b` `<img src=x>`"])
def test_with_code_renders_plain_text_and_code_spans_only(text):
    markdown = with_code(text)
    tags = rendered(markdown)
    assert set(tags.tags) <= {"p", "br", "code"}, (tags.tags, markdown)
    shown = "".join(data for _, data in tags.text).replace("`", "")
    assert squash(shown) == squash(expected(text).replace("`", "")), markdown


@pytest.mark.parametrize("text", HOSTILE)
def test_quoted_is_one_blockquote_of_plain_text(text):
    markdown = quoted(text)
    tags = rendered(markdown)
    assert set(tags.tags) <= {"blockquote", "p", "br"}, (tags.tags, markdown)
    assert tags.tags.count("blockquote") == (1 if markdown else 0)
    assert all(stack[:1] == ("blockquote",) for stack, data in tags.text if data.strip())
    assert squash("".join(data for _, data in tags.text)) == squash(expected(text))


@pytest.mark.parametrize("text", HOSTILE)
def test_inline_code_is_one_code_span(text):
    markdown = inline_code(text)
    assert "\n" not in markdown
    tags = rendered(f"In {markdown} here.")
    assert tags.tags == ["p", "code"], (tags.tags, markdown)
    inside = "".join(data for stack, data in tags.text if stack == ("p", "code"))
    outside = "".join(data for stack, data in tags.text if stack != ("p", "code"))
    assert outside.strip() == "In  here."
    assert inside == " ".join(expected(text).split()) or (inside.strip() == "" == text.strip())


@pytest.mark.parametrize("text", HOSTILE)
def test_code_block_is_one_pre_with_the_text_verbatim(text):
    markdown = code_block(text, info="py`thon\n# x")
    tags = rendered(markdown + "\n\nafter")
    assert tags.tags == ["pre", "code", "p"], (tags.tags, markdown)
    inside = "".join(data for stack, data in tags.text if stack == ("pre", "code"))
    body = expected(text)
    assert inside == (body if body.endswith("\n") else body + "\n")
    assert [data for stack, data in tags.text if stack == ("p",)] == ["after"]


def test_inline_code_pads_only_when_needed():
    assert inline_code("forward") == "`forward`"
    assert inline_code("a\n  b") == "`a b`"
    assert inline_code("`x``") == "``` `x`` ```"
    assert inline_code("") == "`  `"


def test_a_code_block_fence_is_longer_than_any_run_inside():
    assert code_block("x").startswith("```\n")
    assert code_block("a ```` b").startswith("`````\n")
    assert code_block("x", info="python").startswith("```python\n")


def test_html_entities_render_literally():
    assert "&amp;lt;" in MD.render(plain("&lt;"))  # the browser shows "&lt;", not "<"
    assert html.unescape(MD.render(quoted("&copy;"))).count("&copy;") == 1


def test_terminal_safe_strips_escapes_and_controls():
    text = (
        "ok\x1b[2J\x1b[31;1mred\x1b[0m \x1b]0;title\x07x \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ "
        "\x9b2Jc1 \x00\x08\x7f"
        "fake\r15/15\u202e! \udc80\ttab\nline"
    )
    assert terminal_safe(text) == "okred x link c1 fake\n15/15! \ufffd\ttab\nline"
    assert terminal_safe(None) == "None"
    assert terminal_safe("\x1b]unterminated title\nnext") == "\nnext"


def test_odd_values_never_raise():
    class Broken:
        def __str__(self):
            raise RuntimeError

    for function in (plain, quoted, inline_code, code_block, terminal_safe, with_code):
        assert isinstance(function(Broken()), str)
        assert isinstance(function(12), str)
        assert isinstance(function(b"bytes"), str)


def test_long_input_is_linear():
    text = ("`*_[<&\x1b[" * 200_000) + "\n    x" * 50_000
    start = time.process_time()  # CPU time: a busy machine does not stretch it; a quadratic step would take hours
    for function in (plain, quoted, inline_code, code_block, terminal_safe, with_code):
        function(text)
    assert time.process_time() - start < 6
