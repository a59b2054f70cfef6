"""The daemon's logging in libvirt's terms: ``log_level``, ``log_filters`` and
``log_outputs`` (libvirtd.conf; virt-admin's daemon-log-* read and set them).

Priorities are libvirt's: 1 debug, 2 info, 3 warning, 4 error.

- An output ``P:stderr``, ``P:file:PATH``, ``P:syslog:IDENT`` or
  ``P:journald`` receives the messages of priority P and above; several are
  separated by spaces.
- A filter ``P:MATCH`` sets the priority for the loggers whose name matches
  MATCH (a glob, implicitly ``*MATCH*``; a leading ``+`` is accepted and
  ignored, as in libvirt). The first matching filter wins; other loggers use
  ``log_level``. rpcnet's logger names are ``rpcnet.server``,
  ``rpcnet.driver.host.dnsmasq`` and so on, so ``1:dnsmasq`` debugs dnsmasq
  supervision only.

:func:`apply` installs a :class:`LogSettings` on the root logger (so
asyncio's messages go the same way); calling it again replaces the previous
settings and closes their files.
"""

from __future__ import annotations

import fnmatch
import logging
import logging.handlers
import os
import re
import socket
import struct
import sys
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "LogFilter",
    "LogOutput",
    "LogSettings",
    "apply",
    "current",
    "parse_filters",
    "parse_outputs",
]

FORMAT = "%(asctime)s rpcnetd %(levelname)s %(message)s"
JOURNAL_SOCKET = "/run/systemd/journal/socket"
SYSLOG_SOCKET = "/dev/log"
#: libvirt's priority -> Python's level
LEVELS = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_SYSLOG_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}


class Destination(StrEnum):
    STDERR = "stderr"
    FILE = "file"
    SYSLOG = "syslog"
    JOURNALD = "journald"


@dataclass(frozen=True, slots=True)
class LogOutput:
    priority: int
    destination: Destination
    #: the file's path or syslog's ident
    target: str | None = None

    def __str__(self) -> str:
        base = f"{self.priority}:{self.destination}"
        return base if self.target is None else f"{base}:{self.target}"


@dataclass(frozen=True, slots=True)
class LogFilter:
    priority: int
    match: str

    def __str__(self) -> str:
        return f"{self.priority}:{self.match}"

    def matches(self, logger_name: str) -> bool:
        return fnmatch.fnmatchcase(logger_name, f"*{self.match}*")


@dataclass(frozen=True, slots=True)
class LogSettings:
    #: libvirt's default priority: 3 (warnings); rpcnetd's is 2 (info)
    level: int = 2
    filters: tuple[LogFilter, ...] = ()
    outputs: tuple[LogOutput, ...] = field(
        default_factory=lambda: (LogOutput(1, Destination.STDERR),))


#: what libvirt's virStrToLong_uip takes: blanks, an optional plus, digits
_NUMBER = re.compile(r"[ \t\n\v\f\r]*\+?[0-9]+")


def _priority(text: str, what: str) -> int:
    if not _NUMBER.fullmatch(text) or int(text) not in LEVELS:
        raise ValueError(what)
    return int(text)


def parse_outputs(text: str) -> tuple[LogOutput, ...]:
    """``log_outputs`` as libvirt reads it; raises ValueError with libvirt's reason.

    As in libvirt, a later output to the same place (the same file; stderr,
    syslog or journald at all) replaces an earlier one and goes last."""
    outputs: list[LogOutput] = []
    for item in text.split():
        output = _parse_output(item)
        outputs = [o for o in outputs if not _same_place(o, output)]
        outputs.append(output)
    return tuple(outputs)


def _same_place(one: LogOutput, other: LogOutput) -> bool:
    if one.destination is not other.destination:
        return False
    return one.destination is not Destination.FILE or one.target == other.target


def _parse_output(src: str) -> LogOutput:
    tokens = src.split(":")
    if len(tokens) < 2:
        raise ValueError(f"Malformed format for log output '{src}'")
    prio = _priority(tokens[0], f"Invalid log priority '{tokens[0]}' for log output '{src}'")
    try:
        dest = Destination(tokens[1])
    except ValueError:
        raise ValueError(f"Invalid log destination '{tokens[1]}' for log output '{src}'") from None
    wanted = 3 if dest in (Destination.FILE, Destination.SYSLOG) else 2
    if len(tokens) != wanted:
        raise ValueError(f"Log output '{src}' does not meet the format requirements "
                         f"for destination type '{dest}'")
    if dest is Destination.FILE:
        return LogOutput(prio, dest, os.path.abspath(tokens[2]))
    return LogOutput(prio, dest, tokens[2] if dest is Destination.SYSLOG else None)


def parse_filters(text: str) -> tuple[LogFilter, ...]:
    """``log_filters`` as libvirt reads it; raises ValueError with libvirt's reason."""
    return tuple(_parse_filter(item) for item in text.split())


def _parse_filter(src: str) -> LogFilter:
    tokens = src.split(":")
    if len(tokens) < 2:
        raise ValueError(f"Malformed format for filter '{src}'")
    prio = _priority(tokens[0], f"Invalid priority '{tokens[0]}' for filter '{src}'")
    match = tokens[1].removeprefix("+")
    if not match:
        raise ValueError(f"Invalid match string '{tokens[1]}'")
    return LogFilter(prio, match)


def format_outputs(outputs: tuple[LogOutput, ...]) -> str:
    return " ".join(str(output) for output in outputs)


def format_filters(filters: tuple[LogFilter, ...]) -> str:
    return " ".join(str(item) for item in filters)


class _PriorityFilter(logging.Filter):
    """Passes a record if its level reaches the first matching filter's
    priority, or ``log_level``'s without a match."""

    def __init__(self, settings: LogSettings) -> None:
        super().__init__()
        self._filters = settings.filters
        self._default = LEVELS[settings.level]
        self._cache: dict[str, int] = {}

    def threshold(self, name: str) -> int:
        level = self._cache.get(name)
        if level is None:
            level = next((LEVELS[f.priority] for f in self._filters if f.matches(name)),
                         self._default)
            self._cache[name] = level
        return level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.threshold(record.name)


class JournalHandler(logging.Handler):
    """Sends each record to journald's native socket (no libsystemd needed)."""

    def __init__(self, address: str | None = None, ident: str = "rpcnetd") -> None:
        super().__init__()
        self.address = address or JOURNAL_SOCKET
        self.ident = ident
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record).encode("utf-8", "replace")
            fields = (f"PRIORITY={_SYSLOG_PRIORITY.get(record.levelno, 6)}\n"
                      f"SYSLOG_IDENTIFIER={self.ident}\n"
                      f"CODE_FUNC={record.funcName}\n").encode()
            # the binary form of a field: its value may hold newlines
            fields += b"MESSAGE\n" + struct.pack("<Q", len(message)) + message + b"\n"
            self.sock.sendto(fields, self.address)
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self.sock.close()
        super().close()


def _handler(output: LogOutput) -> logging.Handler:
    handler: logging.Handler
    if output.destination is Destination.STDERR:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
    elif output.destination is Destination.FILE:
        assert output.target is not None
        handler = logging.FileHandler(output.target, encoding="utf-8")
        handler.setFormatter(logging.Formatter(FORMAT))
    elif output.destination is Destination.SYSLOG:
        handler = logging.handlers.SysLogHandler(SYSLOG_SOCKET)
        handler.ident = f"{output.target}: "
    else:
        handler = JournalHandler()
    handler.setLevel(LEVELS[output.priority])
    return handler


_current = LogSettings()


def current() -> LogSettings:
    """The settings :func:`apply` installed last (the defaults before)."""
    return _current


def apply(settings: LogSettings) -> None:
    """Make ``settings`` the daemon's logging; raises OSError if a file
    output cannot be opened (the old settings then stay)."""
    global _current
    handlers = []
    try:
        for output in settings.outputs:
            handlers.append(_handler(output))
    except OSError:
        for handler in handlers:
            handler.close()
        raise
    priority = _PriorityFilter(settings)
    for handler in handlers:
        handler.addFilter(priority)
    logger = logging.getLogger()
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    for handler in handlers:
        logger.addHandler(handler)
    lowest = min([settings.level, *(f.priority for f in settings.filters)])
    logger.setLevel(LEVELS[lowest])
    _current = settings
