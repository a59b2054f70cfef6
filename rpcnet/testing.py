"""A pytest plugin: rpcnetd to test libvirt client code against, with faults
on command and a record of every call.

Installed with rpcnet and loaded by pytest on its own (entry point
``pytest11: rpcnet``). Each test that asks for one of these fixtures gets a
fresh daemon: in-memory drivers, sockets in a private temporary directory,
nothing touched outside it. By default the daemon runs in the test's own
process, on a background thread (:class:`rpcnet.testkit.InProcessDaemon`,
ready in about a millisecond); ``--rpcnetd-process`` makes it a child
``rpcnetd`` process instead (:class:`RpcnetdServer`, about 0.25 s each), which
has no faults and no call record.

Fixtures:

``rpcnetd_uri``             ``network+unix:///system?socket=...`` (read-write)
``rpcnetd_ro_uri``          the same on the read-only socket
``rpcnetd_test_uri``        ``test+unix:///default?socket=...`` (libvirt's test driver)
``rpcnetd_test_ro_uri``     the same on the read-only socket
``rpcnetd_server``          the daemon behind them (``uri()``, ``stop()``, ``restart()``)
``rpcnetd_faults``          its faults on command (:class:`rpcnet.testkit.Faults`)
``rpcnetd_calls``           the record of every call it received (:class:`rpcnet.testkit.CallLog`)
``rpcnetd_shared_server``   one daemon for the whole session (state is shared)
``rpcnetd_process_server``  a child ``rpcnetd`` process, whatever the options

Options (command line, or the ini key in brackets):

``--rpcnetd-process``       [``rpcnetd_process = true``] the daemons are child
                            processes, not in-process
``--rpcnetd-pcap=DIR``      [``rpcnetd_pcap``] write each test's call record to
                            ``DIR/<test>.pcap`` (Wireshark's libvirt dissector reads it)

Outside pytest, :class:`rpcnet.testkit.InProcessDaemon` and
:class:`RpcnetdServer` are context managers::

    with InProcessDaemon() as daemon:
        conn = libvirt.open(daemon.uri())
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import pytest

from rpcnet.testkit.process import RpcnetdServer, answers_rpc, stop_process, wait_until_serving

if TYPE_CHECKING:
    from rpcnet.testkit import CallLog, Faults, InProcessDaemon

    #: what ``rpcnetd_server`` is
    Daemon: TypeAlias = "InProcessDaemon | RpcnetdServer"

__all__ = ["RpcnetdServer", "answers_rpc", "stop_process", "wait_until_serving"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rpcnet", "rpcnet's libvirt test daemon")
    group.addoption("--rpcnetd-process", action="store_true", default=None,
                    help="run each test's rpcnetd as a child process, not in the test's "
                         "process (no faults, no call record)")
    group.addoption("--rpcnetd-pcap", metavar="DIR", default=None,
                    help="write each test's record of calls to DIR/<test>.pcap")
    parser.addini("rpcnetd_process", "the default of --rpcnetd-process", type="bool",
                  default=False)
    parser.addini("rpcnetd_pcap", "the default of --rpcnetd-pcap", default="")


def _as_process(config: pytest.Config) -> bool:
    option = config.getoption("rpcnetd_process")
    return bool(config.getini("rpcnetd_process") if option is None else option)


def _new_daemon(config: pytest.Config) -> Daemon:
    if _as_process(config):
        return RpcnetdServer()
    from rpcnet.testkit import InProcessDaemon

    return InProcessDaemon()


@pytest.fixture
def rpcnetd_server(request: pytest.FixtureRequest) -> Iterator[Daemon]:
    """A fresh rpcnetd for this test: in this process, or a child process
    with ``--rpcnetd-process``."""
    with _new_daemon(request.config) as server:
        yield server
        _write_pcap(request, server)


@pytest.fixture(scope="session")
def rpcnetd_shared_server(request: pytest.FixtureRequest) -> Iterator[Daemon]:
    """One rpcnetd for the whole session; tests see each other's networks."""
    with _new_daemon(request.config) as server:
        yield server


@pytest.fixture
def rpcnetd_process_server() -> Iterator[RpcnetdServer]:
    """A fresh ``rpcnetd`` child process for this test (signals, exit status, log)."""
    with RpcnetdServer() as server:
        yield server


def _in_process(server: Daemon, fixture: str) -> InProcessDaemon:
    if isinstance(server, RpcnetdServer):
        pytest.fail(f"{fixture} needs the in-process daemon; drop --rpcnetd-process "
                    "(or rpcnetd_process = true)", pytrace=False)
    return server


@pytest.fixture
def rpcnetd_faults(rpcnetd_server: Daemon) -> Faults:
    """Faults on command for ``rpcnetd_server`` (cleared with the daemon)."""
    return _in_process(rpcnetd_server, "rpcnetd_faults").faults


@pytest.fixture
def rpcnetd_calls(rpcnetd_server: Daemon) -> CallLog:
    """Every call ``rpcnetd_server`` received, in order."""
    return _in_process(rpcnetd_server, "rpcnetd_calls").calls


def _write_pcap(request: pytest.FixtureRequest, server: Daemon) -> None:
    where = request.config.getoption("rpcnetd_pcap") or request.config.getini("rpcnetd_pcap")
    if not where or isinstance(server, RpcnetdServer):
        return
    from rpcnet.testkit.pcap import write_pcap

    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.nodeid)
    Path(where).mkdir(parents=True, exist_ok=True)
    write_pcap(server.calls, Path(where) / f"{name}.pcap")


@pytest.fixture
def rpcnetd_uri(rpcnetd_server: Daemon) -> str:
    return rpcnetd_server.uri("network")


@pytest.fixture
def rpcnetd_ro_uri(rpcnetd_server: Daemon) -> str:
    return rpcnetd_server.uri("network", readonly=True)


@pytest.fixture
def rpcnetd_test_uri(rpcnetd_server: Daemon) -> str:
    return rpcnetd_server.uri("test")


@pytest.fixture
def rpcnetd_test_ro_uri(rpcnetd_server: Daemon) -> str:
    return rpcnetd_server.uri("test", readonly=True)
