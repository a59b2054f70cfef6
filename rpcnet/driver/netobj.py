"""One network as the in-memory driver holds it, and the table of them."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from rpcnet.netxml import NetworkDef, PortDef, format_network
from rpcnet.protocol.values import NetworkRef

from .base import ListFlags
from .ports.usage import Usage


@dataclass(slots=True, eq=False)
class NetObj:
    """A network: its persistent and running definitions, autostart, ports.

    Name and uuid never change for the life of the object; a definition with
    the same uuid but another name is refused before it gets here.
    """

    name: str
    uuid: uuidlib.UUID
    ref: NetworkRef
    config: NetworkDef | None = None
    live: NetworkDef | None = None
    autostart: bool = False
    #: test:///default only: after a destroy libvirt's test driver keeps the
    #: definition it ran as the current one (obj->def) while ``config`` holds
    #: the persistent one (obj->newDef); a later start runs this one again
    stale: NetworkDef | None = None
    ports: dict[bytes, PortDef] = field(default_factory=dict)
    #: connections of the running network, its devices and its QoS, as libvirt counts them
    usage: Usage = field(default_factory=Usage)
    _xml: list[tuple[NetworkDef, str]] = field(default_factory=list)
    #: a definition and its DHCP pool size (statistics ask at every scrape)
    pool: tuple[NetworkDef, int] | None = None

    @property
    def active(self) -> bool:
        return self.live is not None

    @property
    def current(self) -> NetworkDef:
        """libvirt's virNetworkObjGetDef: the running definition if any."""
        netdef = self.live if self.live is not None else self.stale or self.config
        assert netdef is not None, "a network object has at least one definition"
        return netdef

    @staticmethod
    def format(netdef: NetworkDef) -> str:
        return format_network(netdef)

    def xml(self, netdef: NetworkDef) -> str:
        """``format_network(netdef)``, cached for this object's two definitions."""
        for cached, text in self._xml:
            if cached is netdef:
                return text
        text = format_network(netdef)
        self._xml = [(netdef, text), *self._xml[:1]]
        return text

    def matches(self, flags: int) -> bool:
        """Whether the virConnectListAllNetworks filter ``flags`` selects it."""
        return (
            _pick(flags, _ACTIVE, _INACTIVE, self.live is not None)
            and _pick(flags, _PERSISTENT, _TRANSIENT, self.config is not None)
            and _pick(flags, _AUTOSTART, _NO_AUTOSTART, self.autostart)
        )


# Plain ints: IntFlag arithmetic costs microseconds, and list-all asks every network.
_ACTIVE, _INACTIVE = int(ListFlags.ACTIVE), int(ListFlags.INACTIVE)
_PERSISTENT, _TRANSIENT = int(ListFlags.PERSISTENT), int(ListFlags.TRANSIENT)
_AUTOSTART, _NO_AUTOSTART = int(ListFlags.AUTOSTART), int(ListFlags.NO_AUTOSTART)
#: the bits of ``flags`` that filter at all; without any, list-all selects every network
FILTER_BITS = _ACTIVE | _INACTIVE | _PERSISTENT | _TRANSIENT | _AUTOSTART | _NO_AUTOSTART


def _pick(flags: int, yes: int, no: int, value: bool) -> bool:
    """One filter group: no bit of the group set selects everything."""
    if not flags & (yes | no):
        return True
    return bool(flags & yes) if value else bool(flags & no)


class NetTable:
    """Networks indexed by name and by raw uuid, in creation order."""

    def __init__(self) -> None:
        self.by_name: dict[str, NetObj] = {}
        self.by_uuid: dict[bytes, NetObj] = {}

    def __iter__(self) -> Iterator[NetObj]:
        return iter(list(self.by_name.values()))

    def __len__(self) -> int:
        return len(self.by_name)

    def refs(self, flags: int) -> list[NetworkRef]:
        """Handles of the networks the list-all filter ``flags`` selects, in order."""
        if not flags & FILTER_BITS:
            return [obj.ref for obj in self.by_name.values()]
        return [obj.ref for obj in self.by_name.values() if obj.matches(flags)]

    def can_add(self, netdef: NetworkDef) -> bool:
        assert netdef.uuid is not None
        return netdef.name not in self.by_name and netdef.uuid.bytes not in self.by_uuid

    def add(self, netdef: NetworkDef) -> NetObj:
        """A new, still empty object for ``netdef``'s name and uuid."""
        assert netdef.uuid is not None and self.can_add(netdef)
        obj = NetObj(netdef.name, netdef.uuid, NetworkRef(netdef.name, netdef.uuid.bytes))
        self.by_name[obj.name] = obj
        self.by_uuid[obj.uuid.bytes] = obj
        return obj

    def remove(self, obj: NetObj) -> None:
        self.by_name.pop(obj.name, None)
        self.by_uuid.pop(obj.uuid.bytes, None)

    def bridges(self, *, excluding: str) -> set[str]:
        """Bridge names of every definition of every other network."""
        used: set[str] = set()
        for obj in self.by_name.values():
            if obj.name == excluding:
                continue
            for netdef in (obj.config, obj.live):
                if netdef is not None and netdef.bridge is not None and netdef.bridge.name:
                    used.add(netdef.bridge.name)
        return used
