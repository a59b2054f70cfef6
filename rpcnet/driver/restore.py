"""Saved state back into a table of networks: configs, autostart marks,
running definitions and their ports. Corrupt or clashing files are logged
and skipped, never fatal."""

from __future__ import annotations

import logging

from rpcnet.errors import VirError
from rpcnet.netxml import NetworkDef, PortDef, parse_network, parse_port

from .netobj import NetTable
from .ports.allocate import recount
from .store import Snapshot

log = logging.getLogger(__name__)


def restore(nets: NetTable, snap: Snapshot) -> None:
    """Add what ``snap`` holds to ``nets``."""
    for name, text in snap.configs.items():
        netdef = _parse_saved(text, name, "config")
        if netdef is not None and nets.can_add(netdef):
            obj = nets.add(netdef)
            obj.config = netdef
            obj.autostart = name in snap.autostart
    for name, text in snap.status.items():
        _restore_live(nets, name, text, snap.ports.get(name, {}))


def _restore_live(nets: NetTable, name: str, text: str, ports: dict[str, str]) -> None:
    netdef = _parse_saved(text, name, "status")
    if netdef is None:
        return
    obj = nets.by_name.get(name)
    if obj is None:
        if not nets.can_add(netdef):
            log.error("status of network %s clashes with another network; ignored", name)
            return
        obj = nets.add(netdef)
    elif netdef.uuid != obj.uuid:
        log.error("status of network %s has another uuid; ignored", name)
        return
    obj.live = netdef
    obj.ports = _parse_ports(ports, name)
    obj.usage = recount(netdef, obj.ports.values())


def _parse_saved(text: str, name: str, kind: str) -> NetworkDef | None:
    try:
        netdef = parse_network(text)
    except VirError as exc:
        log.error("skipping corrupt %s file of network %s: %s", kind, name, exc.message)
        return None
    if netdef.name != name or netdef.uuid is None:
        log.error("skipping %s file of network %s: wrong name or no uuid", kind, name)
        return None
    return netdef


def _parse_ports(texts: dict[str, str], network: str) -> dict[bytes, PortDef]:
    found: dict[bytes, PortDef] = {}
    for stem, text in texts.items():
        try:
            port = parse_port(text)
        except VirError as exc:
            log.error("skipping corrupt port %s of network %s: %s", stem, network, exc.message)
            continue
        found[port.uuid.bytes] = port
    return found
