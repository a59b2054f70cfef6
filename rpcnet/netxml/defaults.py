"""What libvirt's bridge driver fills in when a network is defined or created.

Checked against libvirtd 9.0's ``network:///system``: a random uuid, and
for the networks whose bridge libvirt makes (nat, route, open, isolated)
the first free ``virbrN`` bridge, ``stp='on' delay='0'`` and a random
``52:54:00`` MAC; the NAT port range is not written into the XML.
"""

from __future__ import annotations

import dataclasses
import random
import uuid as uuidlib
from collections.abc import Collection

from rpcnet.errors import ErrorCode, network_error
from rpcnet.vocabulary import makes_bridge

from .model import BridgeDef, NetworkDef

_MAC_PREFIX = "52:54:00"
_MAX_BRIDGES = 10000  # libvirt gives up after as many tries


def assign_defaults(
    net: NetworkDef,
    *,
    used_bridges: Collection[str],
    bridge_template: str = "virbr%d",
    rng: random.Random | None = None,
) -> NetworkDef:
    """Return ``net`` with libvirt's define-time defaults filled in.

    ``used_bridges`` are bridge names other networks (or the host) already
    use. A bridge name containing ``%d`` is a template for the first free
    number. ``rng`` makes uuid and MAC reproducible in tests. Raises
    INTERNAL_ERROR when no bridge name is free.
    """
    rand = rng if rng is not None else random.SystemRandom()
    changes: dict[str, object] = {}
    if net.uuid is None:
        changes["uuid"] = uuidlib.UUID(int=rand.getrandbits(128), version=4)
    if makes_bridge(net.forward_mode):
        bridge = net.bridge or BridgeDef()
        if bridge.name is None or "%d" in bridge.name:
            name = _free_bridge(bridge.name or bridge_template, used_bridges)
            changes["bridge"] = dataclasses.replace(bridge, name=name)
        elif net.bridge is None:
            changes["bridge"] = bridge
        if net.mac is None:
            changes["mac"] = random_mac(rand)
    return dataclasses.replace(net, **changes) if changes else net  # type: ignore[arg-type]


def random_mac(rand: random.Random) -> str:
    tail = ":".join(f"{rand.randrange(256):02x}" for _ in range(3))
    return f"{_MAC_PREFIX}:{tail}"


def _free_bridge(template: str, used: Collection[str]) -> str:
    for index in range(_MAX_BRIDGES):
        name = template.replace("%d", str(index), 1)
        if name not in used:
            return name
    raise network_error(
        ErrorCode.INTERNAL_ERROR, f"Bridge generation exceeded max id {_MAX_BRIDGES}"
    )
