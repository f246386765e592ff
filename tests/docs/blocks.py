"""Reading the fenced code blocks of the docs, and the ``curl`` lines that follow them.

Pure text processing, no I/O beyond reading the files: :func:`fences` splits one Markdown
text into its fenced blocks (with the line each starts on, so a failing block is named by
``file:line``), :func:`narrative_commands` finds the ``curl`` commands a serving block's
prose tells the reader to run. The rules these implement are written once, at the top of
``test_code_blocks.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

#: the ports a block may use: every ``8080`` is the block's HTTP port, every ``9000`` its
#: FastCGI port; the runner replaces each by a free port before running the block
HTTP_PORT = "8080"
FASTCGI_PORT = "9000"

_FENCE = re.compile(r"^(?P<indent> *)(?P<ticks>`{3,})(?P<info>[^`]*)$")
_HEADING = re.compile(r"^#{1,6} ")
_INLINE_CURL = re.compile(r"`(curl [^`]+)`")
_SHELL_LANGS = {"sh", "shell", "bash", "console"}
#: the tools whose commands a serving block's narrative may show: an HTTP and a FastCGI client
TOOLS = re.compile(r"\b(curl|cgi-fcgi)\b")


@dataclass(frozen=True)
class Fence:
    """One fenced block: its language (the info string's first word), its text with the
    fence's indentation removed, and the 1-based line of its opening fence."""

    lang: str
    text: str
    line: int
    #: the line after the closing fence (where a block's narrative starts)
    end: int


@dataclass(frozen=True)
class Command:
    """A shell command the docs show, with the output they say it prints (``None`` when the
    docs show none, or an abridged one: with ``...`` or ``…`` in it)."""

    text: str
    expected: str | None = None


@dataclass(frozen=True)
class Block:
    """A ``python`` block of one document, ready to run."""

    path: str
    line: int
    text: str
    commands: list[Command] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"


class FenceError(ValueError):
    """A document whose fences do not pair up (the rest of it would be read as code)."""


def fences(markdown: str, source: str = "<markdown>") -> list[Fence]:
    """Every fenced block of ``markdown`` (CommonMark backtick fences, possibly indented as
    in list items; a closing fence has at least as many backticks and no info string)."""
    lines = markdown.splitlines()
    found: list[Fence] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, ticks = len(opening["indent"]), opening["ticks"]
        lang = (opening["info"].split() or [""])[0].lower()
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if closing and closing["ticks"].startswith(ticks) and not closing["info"].strip():
                break
            body.append(_dedent(lines[j], indent))
            j += 1
        else:
            raise FenceError(f"{source}:{i + 1}: a ``` fence that is never closed")
        found.append(Fence(lang, "\n".join(body) + "\n", i + 1, j + 2))
        i = j + 1
    return found


def _dedent(line: str, indent: int) -> str:
    """Strip up to ``indent`` leading spaces, as CommonMark does inside an indented fence."""
    stripped = len(line) - len(line.lstrip(" "))
    return line[min(indent, stripped) :]


def narrative_commands(markdown: str, after: Fence, all_fences: list[Fence]) -> list[Command]:
    """The ``curl`` and ``cgi-fcgi`` commands of the prose after a block that use its ports.

    The narrative runs from the block's closing fence to the next heading or the next
    ``python`` block. Commands come from inline code (`` `curl http://...:8080/x` ``) and from
    shell blocks (``$ curl ...`` lines, each followed by the output it prints, or plain
    command lines); a line ending in ``\\`` or ``|`` continues on the next.
    """
    lines = markdown.splitlines()
    stop = len(lines) + 1
    for fence in all_fences:
        if fence.lang == "python" and fence.line >= after.end:
            stop = min(stop, fence.line)
            break
    for number in range(after.end, stop):
        if _HEADING.match(lines[number - 1]) and not _inside(number, all_fences):
            stop = number
            break
    commands: list[Command] = []
    for number in range(after.end, stop):
        if _inside(number, all_fences):
            continue
        for match in _INLINE_CURL.finditer(lines[number - 1]):
            commands.append(Command(match[1]))
    for fence in all_fences:
        if fence.lang in _SHELL_LANGS and after.end <= fence.line < stop:
            commands.extend(shell_commands(fence.text))
    ports = (f":{HTTP_PORT}", f":{FASTCGI_PORT}")
    return [c for c in commands if any(port in c.text for port in ports)]


def _inside(number: int, all_fences: list[Fence]) -> bool:
    return any(f.line <= number < f.end for f in all_fences)


def shell_commands(text: str) -> list[Command]:
    """The client commands of a shell block (:data:`TOOLS`): ``$ `` lines with the output
    shown after them, or, in a block without prompts, bare command lines."""
    lines = text.splitlines()
    prompted = any(line.startswith("$ ") for line in lines)
    commands: list[Command] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if prompted and not line.startswith("$ "):
            i += 1
            continue
        command = line[2:] if prompted else line
        # a trailing backslash or pipe continues the command on the next line
        while command.rstrip().endswith(("\\", "|")) and i + 1 < len(lines):
            i += 1
            command = command.rstrip().removesuffix("\\") + "\n" + lines[i]
        i += 1
        output: list[str] = []
        while prompted and i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        if not TOOLS.search(command):
            continue
        shown = "\n".join(output).strip()
        abridged = "..." in shown or "…" in shown
        expected = shown if prompted and shown and not abridged else None
        commands.append(Command(command.strip(), expected))
    return commands


def doc_files(root: Path) -> list[Path]:
    """README.md and every ``docs/*.md``: a new page is covered without touching the tests."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def python_blocks(root: Path) -> list[Block]:
    blocks: list[Block] = []
    for path in doc_files(root):
        text = path.read_text(encoding="utf-8")
        relative = path.relative_to(root).as_posix()
        found = fences(text, relative)
        for fence in found:
            if fence.lang == "python":
                commands = narrative_commands(text, fence, found)
                blocks.append(Block(relative, fence.line, fence.text, commands))
    return blocks


def toml_blocks(root: Path) -> list[tuple[str, str]]:
    """``(file:line, text)`` of every ``toml`` block."""
    out: list[tuple[str, str]] = []
    for path in doc_files(root):
        relative = path.relative_to(root).as_posix()
        for fence in fences(path.read_text(encoding="utf-8"), relative):
            if fence.lang == "toml":
                out.append((f"{relative}:{fence.line}", fence.text))
    return out
