"""Where a command's output goes: straight to the terminal, virsh-exact
(one host), or into a capture that the many-hosts view merges into one table.

Commands speak in four kinds of output — plain text, a table, a record of
``Key: value`` lines, an error line — so the merged view can keep structure
that plain text would lose.
"""

from __future__ import annotations

import sys
import unicodedata
from dataclasses import dataclass, field
from typing import Protocol, TextIO


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_table(header: list[str], rows: list[list[str]], *, rstrip: bool = False,
                 with_header: bool = True) -> str:
    """A table the way virsh's vshTable prints it (left aligned, three-space gaps,
    the last column unpadded, the rule two characters longer than the widths);
    ``rstrip`` drops the blanks an empty last cell would leave. Without the
    header (virsh -q) the widths come from the rows alone."""
    widths = [_width(h) if with_header else 0 for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], _width(cell))

    def line(cells: list[str]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            pad = "" if i == len(cells) - 1 else " " * (widths[i] - _width(cell))
            parts.append(cell + pad)
        text = " " + "   ".join(parts)
        return (text.rstrip() if rstrip else text) + "\n"

    out = [line(header), "-" * (sum(widths) + 3 * (len(widths) - 1) + 3) + "\n"] \
        if with_header else []
    out.extend(line(row) for row in rows)
    return "".join(out)


class Sink(Protocol):
    def text(self, text: str) -> None: ...

    def extra(self, text: str) -> None:
        """What virsh prints only when not quiet (its vshPrintExtra)."""

    def error(self, message: str) -> None: ...

    def table(self, header: list[str], rows: list[list[str]]) -> None: ...

    def record(self, pairs: list[tuple[str, str]]) -> None: ...


class StatusLine(Protocol):
    """A line kept at the bottom of stderr (a fan-out's progress)."""

    def clear(self) -> None: ...

    def draw(self) -> None: ...


class TerminalSink:
    """virsh's own output: stdout and stderr (errors above the status line)."""

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None,
                 *, quiet: bool = False) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.quiet = quiet
        self.status: StatusLine | None = None

    def text(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()  # event lines must reach a pipe as they happen

    def error(self, message: str) -> None:
        self.stdout.flush()
        if self.status is not None:
            self.status.clear()
        self.stderr.write(f"error: {message}\n")
        self.stderr.flush()
        if self.status is not None:
            self.status.draw()

    def extra(self, text: str) -> None:
        if not self.quiet:
            self.text(text)

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.stdout.write(format_table(header, rows, with_header=not self.quiet))

    def record(self, pairs: list[tuple[str, str]]) -> None:
        self.stdout.write("".join(f"{key + ':':<15} {value}\n" for key, value in pairs))


@dataclass(slots=True)
class CaptureSink:
    """Keeps one host's output for the merged view."""

    texts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    header: list[str] | None = None
    rows: list[list[str]] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)

    def text(self, text: str) -> None:
        self.texts.append(text)

    def extra(self, text: str) -> None:
        self.texts.append(text)

    def error(self, message: str) -> None:
        self.errors.append(message)

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.header = header
        self.rows.extend(rows)

    def record(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs.extend(pairs)

    def lines(self) -> list[str]:
        return [line for line in "".join(self.texts).splitlines() if line.strip()]
