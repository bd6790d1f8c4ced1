"""TEMPORARY (replaced by the issue9-text branch): student-derived text made inert in Markdown and terminals."""
import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~=&\"'])")


def _clean(text: str) -> str:
    return _CONTROL.sub("", str(text).encode("utf-8", "replace").decode("utf-8"))


def inline_code(text) -> str:
    text = " ".join(_clean(text).split())
    runs = [len(m) for m in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(text, info: str = "") -> str:
    text = _clean(str(text).replace("\t", "    ")).replace("\r", "")
    runs = [len(m) for m in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def plain(text) -> str:
    lines = _clean(text).splitlines()
    return "\n".join(_SPECIAL.sub(r"\\\1", line.lstrip()) for line in lines)


def quoted(text) -> str:
    return "\n".join("> " + line for line in plain(text).splitlines())


def terminal_safe(text) -> str:
    text = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\x1b.", "", str(text))
    return _CONTROL.sub("", text.replace("\t", " "))
