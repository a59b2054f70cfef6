"""A new backend is one class: a recording backend, written against the
Backend protocol alone, shows when and in which order the network service
calls it and its store (activate before the status is saved, deactivate on
destroy, rollback when a start fails, reconcile at load)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from ipaddress import IPv4Address

import pytest

from rpcnet.driver.backend import Backend, RuntimeStats
from rpcnet.driver.base import UpdateFlags
from rpcnet.driver.service import NetworkService
from rpcnet.driver.store import NullStore, Snapshot, Store
from rpcnet.errors import ErrorCode, VirError, network_error
from rpcnet.netxml import NetworkDef, PciAddress, UpdateCommand, UpdateSection, parse_network
from rpcnet.protocol.values import DhcpLease, DnsmasqState, LinkCounters

Journal = list[tuple[str, ...]]

NET = (
    "<network><name>n1</name><uuid>11111111-2222-4333-8444-555555555501</uuid>"
    "<ip address='10.9.1.1' netmask='255.255.255.0'/></network>"
)
HOST = "<host mac='52:54:00:00:00:07' ip='10.9.1.7'/>"


class RecordingBackend:
    """Does nothing but write down what it is asked; ``fail`` names the
    networks whose activation fails (as a real backend's would, after it
    cleaned up)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.fail: set[str] = set()
        self.gone: set[str] = set()
        self.links = {"virbr1"}
        self.seen: dict[str, NetworkDef] = {}
        self.report: Callable[[str, NetworkDef], None] | None = None

    async def activate(self, netdef: NetworkDef) -> None:
        self.journal.append(("activate", netdef.name))
        if netdef.name in self.fail:
            raise network_error(ErrorCode.SYSTEM_ERROR, f"cannot start {netdef.name}")

    async def deactivate(self, live: NetworkDef) -> None:
        self.journal.append(("deactivate", live.name))

    async def apply_update(self, old: NetworkDef, new: NetworkDef, section: UpdateSection) -> None:
        self.journal.append(("apply_update", new.name, section.name))

    async def leases(self, live: NetworkDef, mac: str | None) -> list[DhcpLease]:
        self.journal.append(("leases", live.name))
        return [DhcpLease(iface="virbr9", expirytime=1, type=0, mac=mac, iaid=None,
                          ipaddr="10.9.1.7", prefix=24, hostname=None, clientid=None)]

    async def reconcile(self, running: Mapping[str, NetworkDef]) -> set[str]:
        self.journal.append(("reconcile", *sorted(running)))
        self.seen = dict(running)
        return self.gone & set(running)

    async def link_names(self) -> set[str]:
        return self.links

    def on_vanished(self, report: Callable[[str, NetworkDef], None]) -> None:
        self.report = report

    async def stats(self, running: Mapping[str, NetworkDef]) -> Mapping[str, RuntimeStats]:
        self.journal.append(("stats", *sorted(running)))
        return {name: RuntimeStats(link=LinkCounters(1, 2, 3, 4, 5, 6), leases=1,
                                   dnsmasq=DnsmasqState(up=True, restarts=0))
                for name in running}

    def virtual_functions(self, pf: str) -> list[tuple[PciAddress, str | None]]:
        return []

    def is_virtual_function(self, addr: PciAddress) -> bool:
        return False

    async def close(self) -> None:
        self.journal.append(("close",))


class RecordingStore(NullStore):
    """Keeps nothing, writes down each save; ``snapshot`` is what load finds."""

    def __init__(self, journal: Journal, snapshot: Snapshot | None = None) -> None:
        self.journal = journal
        self.snapshot = snapshot
        self.fail_status = False

    async def load(self) -> Snapshot | None:
        return self.snapshot

    async def write_status(self, name: str, xml: str) -> None:
        self.journal.append(("write_status", name))
        if self.fail_status:
            raise network_error(ErrorCode.SYSTEM_ERROR, "No space left on device")

    async def delete_status(self, name: str) -> None:
        self.journal.append(("delete_status", name))


@pytest.fixture
def journal() -> Journal:
    return []


@pytest.fixture
async def service(journal: Journal) -> NetworkService:
    backend: Backend = RecordingBackend(journal)
    store: Store = RecordingStore(journal)
    svc = await NetworkService.open("network", backend=backend, store=store)
    journal.clear()
    return svc


def backend_of(svc: NetworkService) -> RecordingBackend:
    backend = svc._backend
    assert isinstance(backend, RecordingBackend)
    return backend


async def test_a_fresh_default_network_is_autostarted_through_the_backend(
    journal: Journal,
) -> None:
    svc = await NetworkService.open(
        "network", backend=RecordingBackend(journal), store=RecordingStore(journal)
    )
    assert journal == [("activate", "default"), ("write_status", "default")]
    assert await svc.network_is_active(await svc.network_lookup_by_name("default"))


async def test_activate_comes_before_the_status_and_deactivate_before_its_removal(
    service: NetworkService, journal: Journal
) -> None:
    ref = await service.network_create_xml(NET)
    assert journal == [("activate", "n1"), ("write_status", "n1")]
    journal.clear()
    await service.network_destroy(ref)
    assert journal == [("deactivate", "n1"), ("delete_status", "n1")]
    assert await service.connect_list_networks(10) == ["default"]


async def test_a_failed_activation_saves_and_shows_nothing(
    service: NetworkService, journal: Journal
) -> None:
    backend_of(service).fail.add("n1")
    with pytest.raises(VirError, match="cannot start n1"):
        await service.network_create_xml(NET)
    assert journal == [("activate", "n1")]
    assert await service.connect_list_networks(10) == ["default"]
    assert await service.connect_list_defined_networks(10) == []


async def test_a_failed_status_write_rolls_the_activation_back(
    service: NetworkService, journal: Journal
) -> None:
    ref = await service.network_define_xml(NET)
    store = service._store
    assert isinstance(store, RecordingStore)
    store.fail_status = True
    with pytest.raises(VirError, match="No space left"):
        await service.network_create(ref)
    assert journal == [("activate", "n1"), ("write_status", "n1"), ("deactivate", "n1")]
    assert not await service.network_is_active(ref)


async def test_updates_and_leases_of_a_running_network_go_to_the_backend(
    service: NetworkService, journal: Journal
) -> None:
    net = NET.replace("'/></network>", "'><dhcp/></ip></network>")
    ref = await service.network_create_xml(net)
    journal.clear()
    await service.network_update(ref, UpdateCommand.ADD_LAST, UpdateSection.IP_DHCP_HOST, -1,
                                 HOST, UpdateFlags.AFFECT_LIVE)
    assert journal == [("apply_update", "n1", "IP_DHCP_HOST"), ("write_status", "n1")]
    leases = await service.network_get_dhcp_leases(ref, None, 0)
    assert [lease.ipaddr for lease in leases] == ["10.9.1.7"]
    assert journal[-1] == ("leases", "n1")


async def test_statistics_ask_the_backend_for_the_running_networks_only(
    service: NetworkService, journal: Journal
) -> None:
    await service.network_define_xml(NET)  # n1, inactive
    journal.clear()
    (default, n1) = await service.network_list_stats(None, 0)
    assert journal == [("stats", "default")]
    assert (default.name, default.active, default.leases, default.pool_size) == (
        "default", True, 1, 253)
    assert default.link == LinkCounters(1, 2, 3, 4, 5, 6) and default.dnsmasq is not None
    assert (n1.active, n1.link, n1.dnsmasq, n1.leases, n1.pool_size) == (
        False, None, None, 0, 0)
    journal.clear()
    assert await service.network_list_stats("n1", 0) == [n1]
    assert journal == []  # nothing runs: the backend is not asked
    with pytest.raises(VirError, match="no network with matching name 'n2'"):
        await service.network_list_stats("n2", 0)
    with pytest.raises(VirError, match="unsupported flags"):
        await service.network_list_stats(None, 1)


async def test_new_bridges_avoid_the_backend_link_names(service: NetworkService) -> None:
    ref = await service.network_define_xml(NET)
    assert await service.network_get_bridge_name(ref) == "virbr2"


async def test_load_reconciles_what_the_store_says_runs(journal: Journal) -> None:
    first = await NetworkService.open(
        "network", backend=RecordingBackend(journal), store=RecordingStore(journal)
    )
    kept = await first.network_create_xml(NET)
    gone_xml = NET.replace("n1", "n2").replace("501", "502").replace("10.9.1.", "10.9.2.")
    gone = await first.network_create_xml(gone_xml)
    status = {
        ref.name: await first.network_get_xml_desc(ref, 0)
        for ref in (kept, gone, await first.network_lookup_by_name("default"))
    }
    journal.clear()
    backend = RecordingBackend(journal)
    backend.gone = {"n2"}
    store = RecordingStore(journal, Snapshot(status=status))
    again = await NetworkService.open("network", backend=backend, store=store)
    assert journal == [("reconcile", "default", "n1", "n2"), ("delete_status", "n2")]
    assert backend.seen["n1"].ips[0].address == IPv4Address("10.9.1.1")
    assert sorted(await again.connect_list_networks(10)) == ["default", "n1"]
    assert await again.connect_list_defined_networks(10) == []  # transient n2 is forgotten
    await again.reload()
    assert journal[-1] == ("reconcile", "default", "n1")
    await again.close()
    assert journal[-1] == ("close",)


async def test_a_network_the_backend_reports_gone_is_forgotten(
    service: NetworkService, journal: Journal
) -> None:
    transient = await service.network_create_xml(NET)
    persistent = await service.network_lookup_by_name("default")
    report = backend_of(service).report
    assert report is not None
    live = service._nets.by_name["n1"].live
    assert live is not None
    journal.clear()
    report("n1", live)
    # a report about an older run of default: default runs on, untouched
    report("default", parse_network(NET.replace("n1", "default")))
    for _ in range(3):
        await asyncio.sleep(0)
    assert journal == [("delete_status", "n1")]
    assert await service.connect_list_networks(10) == ["default"]
    assert await service.network_is_active(persistent)
    with pytest.raises(VirError, match="no network with matching"):
        await service.network_is_active(transient)
