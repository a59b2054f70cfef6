"""libvirt's configuration file syntax (libvirtd.conf, virtnetworkd.conf, ...).

Theory of operation: a file is a sequence of statements ``name = value``,
separated by line ends or ``;``, with ``#`` comments on their own line or
after a value. A name is an ASCII letter followed by letters, digits and
``_``. A value is

- an integer: digits with an optional sign (a leading ``-`` makes it signed;
  libvirt's typed getters care);
- a string in ``"..."`` or ``'...'`` on one line, or in ``\"\"\"...\"\"\"``
  over several; there are no escapes: a backslash is itself;
- a list ``[v, v, ...]`` of values that may span lines, with an optional
  trailing comma (no comments inside).

That is the grammar of libvirt's ``virconf.c`` (default flags), and its
error reasons and ``FILE:LINE`` numbering are kept, so a mistake is reported
as libvirtd would report it. A key set twice keeps its first value, as in
libvirt.

:func:`parse_conf` turns text into a :class:`ConfFile`; its typed getters
(``get_string``, ``get_uint``, ``get_int``, ``get_bool``,
``get_string_list``) check a value's
type as libvirt's do and raise :class:`ConfValueError` naming the file and
the key.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ConfEntry",
    "ConfError",
    "ConfFile",
    "ConfSyntaxError",
    "ConfValue",
    "ConfValueError",
    "parse_conf",
    "read_conf",
]

#: libvirt refuses larger files (virConfReadFile)
MAX_CONF_SIZE = 10 * 1024 * 1024

ConfValue = int | str | list["ConfValue"]


class ConfError(ValueError):
    """A configuration file libvirt would refuse."""


class ConfSyntaxError(ConfError):
    """The text is not libvirt's config syntax; ``str()`` is ``FILE:LINE: reason``."""

    def __init__(self, filename: str, line: int, reason: str) -> None:
        super().__init__(f"{filename}:{line}: {reason}")
        self.filename = filename
        self.line = line
        self.reason = reason


class ConfValueError(ConfError):
    """A key holds a value of the wrong type or range for its setting."""


@dataclass(frozen=True, slots=True)
class ConfEntry:
    name: str
    value: ConfValue
    #: the line the statement starts on (1-based)
    line: int
    #: whether the integer was written with a leading ``-`` (libvirt's LLONG)
    signed: bool = False


@dataclass(slots=True)
class ConfFile:
    """The statements of one file, in order."""

    filename: str
    entries: list[ConfEntry] = field(default_factory=list)

    def first(self, name: str) -> ConfEntry | None:
        """The statement that sets ``name`` (the first, as in libvirt), or None."""
        for entry in self.entries:
            if entry.name == name:
                return entry
        return None

    def settings(self) -> list[ConfEntry]:
        """The statement that counts for each key (its first), in file order."""
        found: dict[str, ConfEntry] = {}
        for entry in self.entries:
            found.setdefault(entry.name, entry)
        return list(found.values())

    def names(self) -> list[str]:
        """Each name set, once, in the order first set."""
        return [entry.name for entry in self.settings()]

    # -- typed getters, as libvirt's virConfGetValue* -----------------------

    def get_string(self, name: str) -> str | None:
        entry = self.first(name)
        if entry is None:
            return None
        if not isinstance(entry.value, str):
            raise self._wrong(name, "expected a string")
        return entry.value

    def get_string_list(self, name: str) -> list[str] | None:
        entry = self.first(name)
        if entry is None:
            return None
        value = entry.value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._wrong(name, "expected a string list")
        return [v for v in value if isinstance(v, str)]

    def get_uint(self, name: str, maximum: int = 2**32 - 1) -> int | None:
        return self._integer(name, "expected an unsigned integer", 0, maximum, unsigned=True)

    def get_int(self, name: str) -> int | None:
        return self._integer(name, "expected a signed integer", -(2**31), 2**31 - 1)

    def get_bool(self, name: str) -> bool | None:
        entry = self.first(name)
        if entry is None:
            return None
        if not isinstance(entry.value, int) or entry.signed:
            raise self._wrong(name, "expected a bool")
        if entry.value > 1:
            raise ConfValueError(f"{self.filename}: value for '{name}' parameter must be 0 or 1")
        return entry.value == 1

    def _integer(self, name: str, what: str, low: int, high: int, *,
                 unsigned: bool = False) -> int | None:
        entry = self.first(name)
        if entry is None:
            return None
        if not isinstance(entry.value, int) or (unsigned and entry.signed):
            raise self._wrong(name, what)
        if not low <= entry.value <= high:
            raise ConfValueError(f"{self.filename}: value for '{name}' parameter must be "
                                 f"in range {low}:{high}")
        return entry.value

    def _wrong(self, name: str, what: str) -> ConfValueError:
        return ConfValueError(f"{self.filename}: {what} for '{name}' parameter")


def read_conf(path: Path | str) -> ConfFile:
    """Parse the file at ``path``; raises OSError, ConfSyntaxError, or
    ConfError for a file over libvirt's 10 MiB limit or not UTF-8."""
    path = Path(path)
    with path.open("rb") as handle:
        data = handle.read(MAX_CONF_SIZE + 1)
    if len(data) > MAX_CONF_SIZE:
        raise ConfError(f"{path}: larger than {MAX_CONF_SIZE} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_conf(text, str(path))


def parse_conf(text: str, filename: str = "memory conf") -> ConfFile:
    """The statements in ``text``; raises ConfSyntaxError at the first mistake."""
    return _Parser(text, filename).parse()


_BLANK = " \t"
_EOL = "\n\r"
_NAME_START = frozenset(string.ascii_letters)
_NAME = frozenset(string.ascii_letters + string.digits + "_")
_NUMBER_START = frozenset(string.digits + "+-")
_TRIPLE = '"""'


class _Parser:
    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.end = len(text)
        self.pos = 0
        self.conf = ConfFile(filename)

    # -- helpers -----------------------------------------------------------

    def cur(self) -> str:
        return self.text[self.pos] if self.pos < self.end else ""

    def error(self, reason: str) -> ConfSyntaxError:
        line = self.text.count("\n", 0, self.pos) + 1
        return ConfSyntaxError(self.conf.filename, line, reason)

    def skip_blanks(self) -> None:
        while self.pos < self.end and self.text[self.pos] in _BLANK:
            self.pos += 1

    def skip_blanks_and_eol(self) -> None:
        while self.pos < self.end and self.text[self.pos] in _BLANK + _EOL:
            self.pos += 1

    def skip_to_eol(self) -> None:
        while self.pos < self.end and self.text[self.pos] not in _EOL:
            self.pos += 1

    # -- grammar -------------------------------------------------------------

    def parse(self) -> ConfFile:
        while self.pos < self.end:
            self.parse_statement()
            self.parse_separator()
        return self.conf

    def parse_statement(self) -> None:
        self.skip_blanks_and_eol()
        if self.cur() == "#":
            self.skip_to_eol()
            return
        line = self.text.count("\n", 0, self.pos) + 1
        name = self.parse_name()
        self.skip_blanks()
        if self.cur() != "=":
            raise self.error("expecting an assignment")
        self.pos += 1
        self.skip_blanks()
        signed = self.cur() == "-"
        value = self.parse_value()
        self.skip_blanks()
        if self.cur() == "#":
            self.skip_to_eol()
        self.conf.entries.append(ConfEntry(name, value, line, signed and isinstance(value, int)))

    def parse_separator(self) -> None:
        self.skip_blanks()
        if self.pos >= self.end:
            return
        char = self.cur()
        if char in _EOL:
            self.skip_blanks_and_eol()
        elif char == ";":
            self.pos += 1
            self.skip_blanks_and_eol()
        else:
            raise self.error("expecting a separator")

    def parse_name(self) -> str:
        self.skip_blanks()
        start = self.pos
        if self.cur() not in _NAME_START:
            raise self.error("expecting a name")
        while self.pos < self.end and self.text[self.pos] in _NAME:
            self.pos += 1
        return self.text[start:self.pos]

    def parse_value(self) -> ConfValue:
        self.skip_blanks()
        if self.pos >= self.end:
            raise self.error("expecting a value")
        char = self.cur()
        if char in "\"'":
            return self.parse_string()
        if char == "[":
            return self.parse_list()
        if char in _NUMBER_START:
            return self.parse_number()
        raise self.error("expecting a value")

    def parse_string(self) -> str:
        quote = self.cur()
        if quote == '"' and self.end - self.pos > 6 and self.text.startswith(_TRIPLE, self.pos):
            start = self.pos + 3
            stop = self.text.find(_TRIPLE, start)
            if stop < 0:
                self.pos = max(start, self.end - 2)  # where libvirt's search gives up
                raise self.error("unterminated string")
            self.pos = stop + 3
            return self.text[start:stop]
        self.pos += 1
        start = self.pos
        while self.pos < self.end and self.text[self.pos] != quote \
                and self.text[self.pos] not in _EOL:
            self.pos += 1
        if self.cur() != quote:
            raise self.error("unterminated string")
        self.pos += 1
        return self.text[start:self.pos - 1]

    def parse_list(self) -> list[ConfValue]:
        self.pos += 1
        self.skip_blanks_and_eol()
        items: list[ConfValue] = []
        if self.pos < self.end and self.cur() != "]":
            items.append(self.parse_value())
            self.skip_blanks_and_eol()
        while self.pos < self.end and self.cur() != "]":
            if self.cur() != ",":
                raise self.error("expecting a separator in list")
            self.pos += 1
            self.skip_blanks_and_eol()
            if self.cur() == "]":
                break
            items.append(self.parse_value())
            self.skip_blanks_and_eol()
        if self.cur() != "]":
            raise self.error("list is not closed with ]")
        self.pos += 1
        return items

    def parse_number(self) -> int:
        negative = self.cur() == "-"
        if self.cur() in "+-":
            self.pos += 1
        start = self.pos
        while self.pos < self.end and self.text[self.pos] in string.digits:
            self.pos += 1
        if self.pos == start:
            raise self.error("unterminated number")
        value = int(self.text[start:self.pos])
        return -value if negative else value
