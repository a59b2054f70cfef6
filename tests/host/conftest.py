"""Fixtures of the host-backend tests: root, the helper programs, and
namespaces that are always removed, also when a test fails."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.host.hostnet import BUSYBOX, DHCLIENT, Guest, HostDaemon, Uplink
from tests.peers.netns import IP
from tests.peers.requirements import need_executable, need_root

pytestmark = pytest.mark.host


@pytest.fixture(scope="session")
def host_tools() -> None:
    need_root()
    for tool in (IP, "/usr/sbin/nft", "/usr/sbin/dnsmasq", BUSYBOX, DHCLIENT, "/usr/bin/virsh"):
        need_executable(tool)


@pytest.fixture
def daemon_factory(host_tools: None) -> Iterator[Callable[..., HostDaemon]]:
    made: list[HostDaemon] = []

    def make(*extra_args: str, dir_mode: int = 0o755) -> HostDaemon:
        daemon = HostDaemon(*extra_args, dir_mode=dir_mode)
        made.append(daemon)
        return daemon.start()

    yield make
    for daemon in made:
        daemon.cleanup()


@pytest.fixture
def daemon(daemon_factory: Callable[..., HostDaemon]) -> HostDaemon:
    return daemon_factory()


@pytest.fixture
def guests() -> Iterator[Callable[[HostDaemon, str, str], Guest]]:
    made: list[Guest] = []

    def make(host: HostDaemon, bridge: str, mac: str) -> Guest:
        guest = Guest(host.ns, bridge, mac, tag=str(len(made)))
        made.append(guest)
        return guest

    yield make
    for guest in made:
        guest.cleanup()


@pytest.fixture
def uplinks() -> Iterator[Callable[[HostDaemon], Uplink]]:
    made: list[Uplink] = []

    def make(host: HostDaemon) -> Uplink:
        uplink = Uplink(host.ns)
        made.append(uplink)
        return uplink

    yield make
    for uplink in made:
        uplink.cleanup()
