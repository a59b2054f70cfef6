"""The daemon's logging in libvirt's terms (rpcnet.server.logsetup)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpcnet.server import logsetup
from rpcnet.server.logsetup import (
    Destination,
    LogFilter,
    LogOutput,
    LogSettings,
    format_filters,
    format_outputs,
    parse_filters,
    parse_outputs,
)


def test_outputs_parse_and_format_back() -> None:
    text = "1:stderr 3:file:/var/log/x.log 2:syslog:rpcnetd 4:journald"
    outputs = parse_outputs(text)
    assert outputs == (
        LogOutput(1, Destination.STDERR),
        LogOutput(3, Destination.FILE, "/var/log/x.log"),
        LogOutput(2, Destination.SYSLOG, "rpcnetd"),
        LogOutput(4, Destination.JOURNALD),
    )
    assert format_outputs(outputs) == text
    assert parse_outputs("") == ()


def test_filters_parse_and_format_back() -> None:
    assert parse_filters("1:server  4:+dnsmasq") == (LogFilter(1, "server"),
                                                    LogFilter(4, "dnsmasq"))
    assert format_filters(parse_filters("1:server 4:+dnsmasq")) == "1:server 4:dnsmasq"


@pytest.mark.parametrize(("text", "message"), [
    ("stderr", "Malformed format for log output 'stderr'"),
    ("0:stderr", "Invalid log priority '0' for log output '0:stderr'"),
    ("x:stderr", "Invalid log priority 'x' for log output 'x:stderr'"),
    ("1:tty", "Invalid log destination 'tty' for log output '1:tty'"),
    ("1:file", "Log output '1:file' does not meet the format requirements for "
               "destination type 'file'"),
    ("1:stderr:x", "Log output '1:stderr:x' does not meet the format requirements for "
                   "destination type 'stderr'"),
])
def test_bad_outputs_get_libvirts_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_outputs(text)
    assert str(info.value) == message


@pytest.mark.parametrize(("text", "message"), [
    ("server", "Malformed format for filter 'server'"),
    ("5:server", "Invalid priority '5' for filter '5:server'"),
    ("1:+", "Invalid match string '+'"),
])
def test_bad_filters_get_libvirts_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_filters(text)
    assert str(info.value) == message


def test_filters_match_like_libvirt_globs() -> None:
    assert LogFilter(1, "server").matches("rpcnet.server")
    assert LogFilter(1, "host.dns*").matches("rpcnet.driver.host.dnsmasq_conf")
    assert not LogFilter(1, "client").matches("rpcnet.server")


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if handler not in saved[0]:
            handler.close()
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def test_apply_routes_by_filter_level_and_output(root_logger: logging.Logger,
                                                 tmp_path: Path) -> None:
    all_of_it, errors = tmp_path / "all.log", tmp_path / "errors.log"
    logsetup.apply(LogSettings(
        level=3,
        filters=(LogFilter(1, "dnsmasq"), LogFilter(4, "rpcnet.driver")),
        outputs=(LogOutput(1, Destination.FILE, str(all_of_it)),
                 LogOutput(4, Destination.FILE, str(errors)))))
    logging.getLogger("rpcnet.driver.host.dnsmasq").debug("dnsmasq debug")
    logging.getLogger("rpcnet.driver.store").warning("store warning")
    logging.getLogger("rpcnet.driver.store").error("store error")
    logging.getLogger("rpcnet.server").info("server info")
    logging.getLogger("rpcnet.server").warning("server warning")
    text = all_of_it.read_text()
    assert "dnsmasq debug" in text and "server warning" in text and "store error" in text
    assert "store warning" not in text and "server info" not in text
    assert "rpcnetd ERROR store error" in errors.read_text()
    assert "dnsmasq debug" not in errors.read_text()


def test_apply_again_replaces_and_keeps_the_old_on_failure(root_logger: logging.Logger,
                                                           tmp_path: Path) -> None:
    first = tmp_path / "first.log"
    logsetup.apply(LogSettings(outputs=(LogOutput(1, Destination.FILE, str(first)),)))
    with pytest.raises(OSError):
        logsetup.apply(LogSettings(outputs=(
            LogOutput(1, Destination.FILE, str(tmp_path / "no" / "dir.log")),)))
    logging.getLogger("rpcnet.server").warning("still here")
    assert "still here" in first.read_text()


def test_a_later_output_to_the_same_place_replaces_the_earlier() -> None:
    # libvirt's virLogParseOutputs: the same file, or stderr/syslog/journald at all
    assert parse_outputs("1:stderr 2:file:/a 3:stderr 4:file:/b 2:file:/a 1:syslog:x "
                         "3:syslog:y") == (
        LogOutput(3, Destination.STDERR), LogOutput(4, Destination.FILE, "/b"),
        LogOutput(2, Destination.FILE, "/a"), LogOutput(3, Destination.SYSLOG, "y"))


def test_priorities_are_read_as_libvirt_reads_them() -> None:
    # strtoul's way: an optional plus, decimal digits only
    assert parse_filters("+2:bar 02:baz") == (LogFilter(2, "bar"), LogFilter(2, "baz"))
    assert parse_outputs("+4:stderr") == (LogOutput(4, Destination.STDERR),)
    for bad in ("-2:x", "2_0:x", "0x2:x", "٢:x"):
        with pytest.raises(ValueError, match="Invalid priority"):
            parse_filters(bad)


def test_the_settings_applied_last_are_kept(tmp_path: Path) -> None:
    before = logsetup.current()
    settings = LogSettings(level=3, outputs=(LogOutput(2, Destination.FILE,
                                                        str(tmp_path / "x.log")),))
    try:
        logsetup.apply(settings)
        assert logsetup.current() is settings
    finally:
        logsetup.apply(before)
    assert logsetup.current() is before
