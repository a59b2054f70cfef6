"""The daemon's log outputs that are sockets: journald's native protocol and
syslog, each received by a datagram socket of the test's own."""

from __future__ import annotations

import logging
import socket
import struct
from pathlib import Path

import pytest

from rpcnet.server import logsetup
from rpcnet.server.logsetup import Destination, LogOutput, LogSettings
from tests.unit.test_logsetup import root_logger

__all__ = ["root_logger"]  # the fixture, shared


def _datagram_sink(path: Path) -> socket.socket:
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(str(path))
    sink.settimeout(5)
    return sink


def test_journald_output_speaks_the_native_protocol(root_logger: logging.Logger,
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "journal"
    monkeypatch.setattr(logsetup, "JOURNAL_SOCKET", str(path))
    with _datagram_sink(path) as sink:
        logsetup.apply(LogSettings(outputs=(LogOutput(2, Destination.JOURNALD),)))
        logging.getLogger("rpcnet.server").warning("two\nlines")
        data = sink.recv(65536)
    head, _, rest = data.partition(b"MESSAGE\n")
    assert b"PRIORITY=4\n" in head and b"SYSLOG_IDENTIFIER=rpcnetd\n" in head
    (length,) = struct.unpack("<Q", rest[:8])
    assert rest[8:8 + length] == b"two\nlines" and rest[8 + length:] == b"\n"


def test_syslog_output_carries_the_ident(root_logger: logging.Logger, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log"
    monkeypatch.setattr(logsetup, "SYSLOG_SOCKET", str(path))
    with _datagram_sink(path) as sink:
        logsetup.apply(LogSettings(outputs=(LogOutput(1, Destination.SYSLOG, "netd"),)))
        logging.getLogger("rpcnet.server").error("boom")
        data = sink.recv(65536)
    assert data.startswith(b"<11>netd: boom")  # facility user (1), severity error (3)
