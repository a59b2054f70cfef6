"""What a network service asks of the machine it runs networks on.

:class:`~rpcnet.driver.service.NetworkService` holds libvirt's semantics
and calls a :class:`Backend` to make a running network real. A backend
sees definitions only (:class:`~rpcnet.netxml.NetworkDef`), never the
service's objects, lock or store: the service decides, keeps the books and
saves; the backend acts and reports. A new backend is one class with the
methods below (:class:`NullBackend` is the smallest).

Calls come under the service's lock, one at a time, except
:meth:`Backend.link_names` (before the lock is taken),
:meth:`Backend.virtual_functions`/:meth:`Backend.is_virtual_function`,
which must not block, and :meth:`Backend.stats`, which only reads and may
run beside any other call (a scrape must not wait for a network's start).
A backend that also works on its own (the host backend's background
re-assertion) keeps that apart from the calls with a lock of its own, and
reports what it finds gone through :meth:`Backend.on_vanished`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from rpcnet.netxml import NetworkDef, PciAddress, UpdateSection
from rpcnet.protocol.values import DhcpLease, DnsmasqState, LinkCounters

from . import sysfs


@dataclass(frozen=True, slots=True)
class RuntimeStats:
    """What a backend reads of one running network for its statistics."""

    #: the kernel's counters of its bridge (None: none to read)
    link: LinkCounters | None = None
    #: DHCP leases in use
    leases: int = 0
    #: its DHCP and DNS server (None: none runs for it)
    dnsmasq: DnsmasqState | None = None


class Backend(Protocol):
    """The kernel (or nothing) behind a network service."""

    async def activate(self, netdef: NetworkDef) -> None:
        """Make ``netdef`` run. On failure leave nothing behind and raise
        :class:`~rpcnet.errors.VirError`."""
        ...

    async def deactivate(self, live: NetworkDef) -> None:
        """Stop the running definition ``live``, also when it is half gone;
        also called to undo :meth:`activate` when saving its status failed."""
        ...

    async def apply_update(self, old: NetworkDef, new: NetworkDef, section: UpdateSection) -> None:
        """Make a running network that ran ``old`` run ``new``, which differs
        from it in ``section`` only."""
        ...

    async def leases(self, live: NetworkDef, mac: str | None) -> list[DhcpLease]:
        """DHCP leases of the running ``live`` network, only ``mac``'s if given."""
        ...

    async def reconcile(self, running: Mapping[str, NetworkDef]) -> set[str]:
        """At start and reload: ``running`` is what the service believes runs,
        by name. Adopt each of those that still runs, remove whatever else
        the backend finds of its own, and return the names of ``running``
        that are gone (the service then marks them stopped)."""
        ...

    async def link_names(self) -> set[str]:
        """Interface names a new ``virbrN`` must not take (besides other
        networks' bridges, which the service knows)."""
        ...

    def on_vanished(self, report: Callable[[str, NetworkDef], None]) -> None:
        """Whom to tell when a running network turns out to be gone outside
        a call (e.g. found while re-asserting it in the background after a
        reconcile): ``report(name, live)``, where ``live`` is the definition
        it ran as; the backend has already removed what was left of it."""
        ...

    async def stats(self, running: Mapping[str, NetworkDef]) -> Mapping[str, RuntimeStats]:
        """Read now what runs of the running networks ``running`` (by name):
        kernel counters, leases, dnsmasq. A network it has nothing of may be
        left out. Must not fail for a network that stops meanwhile."""
        ...

    def virtual_functions(self, pf: str) -> list[tuple[PciAddress, str | None]]:
        """The virtual functions of the SR-IOV physical function ``pf``, with
        their netdev names where they have one."""
        ...

    def is_virtual_function(self, addr: PciAddress) -> bool:
        """Whether the PCI device ``addr`` is an SR-IOV virtual function."""
        ...

    async def close(self) -> None:
        """Stop supervising (the daemon shuts down); what runs keeps running."""
        ...


class NullBackend:
    """Runs nothing: every network runs in memory only. It still reads the
    host's SR-IOV devices from sysfs, as libvirt's bridge driver validates
    a hostdev or ``pf`` network against them."""

    async def activate(self, netdef: NetworkDef) -> None:
        pass

    async def deactivate(self, live: NetworkDef) -> None:
        pass

    async def apply_update(self, old: NetworkDef, new: NetworkDef, section: UpdateSection) -> None:
        pass

    async def leases(self, live: NetworkDef, mac: str | None) -> list[DhcpLease]:
        return []  # no DHCP server runs in memory

    async def reconcile(self, running: Mapping[str, NetworkDef]) -> set[str]:
        return set()  # nothing outside memory can have gone

    async def link_names(self) -> set[str]:
        return set()

    def on_vanished(self, report: Callable[[str, NetworkDef], None]) -> None:
        pass  # nothing runs outside memory, so nothing vanishes

    async def stats(self, running: Mapping[str, NetworkDef]) -> Mapping[str, RuntimeStats]:
        return {}  # no bridge, no counters, no DHCP server

    def virtual_functions(self, pf: str) -> list[tuple[PciAddress, str | None]]:
        return sysfs.virtual_functions(pf)

    def is_virtual_function(self, addr: PciAddress) -> bool:
        return sysfs.is_virtual_function(addr)

    async def close(self) -> None:
        pass
