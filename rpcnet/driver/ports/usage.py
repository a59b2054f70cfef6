"""What libvirt counts for a running network: connections per network and
per pool device, the sum of the ports' inbound floors, QoS class ids."""

from __future__ import annotations

from dataclasses import dataclass, field

from rpcnet.netxml import PciAddress

#: A device of a forward pool: an interface name or a PCI address.
Device = str | PciAddress


@dataclass(slots=True)
class Usage:
    """What libvirt counts for a running network: its connections, those of
    each pool device, the sum of the ports' inbound floors and the QoS class
    ids in use. Counts may go below zero, as libvirt's do after an update of
    the running network (which starts them afresh) and a later port delete."""

    connections: int = 0
    devices: dict[Device, int] = field(default_factory=dict)
    floor_sum: int = 0
    class_ids: set[int] = field(default_factory=set)

    def uses(self, dev: Device) -> int:
        return self.devices.get(dev, 0)

    def device_connections(self) -> dict[str, int]:
        """Connections per interface name, as the network XML prints them."""
        return {dev: n for dev, n in self.devices.items() if isinstance(dev, str)}

    def take(self, dev: Device | None) -> None:
        self.connections += 1
        if dev is not None:
            self.devices[dev] = self.uses(dev) + 1

    def give_back(self, dev: Device | None) -> None:
        self.connections -= 1
        if dev is not None:
            self.devices[dev] = self.uses(dev) - 1

    def restart(self) -> None:
        """Counts of a network just (re)started or updated while running:
        libvirt's fresh definition starts them at zero."""
        self.connections = 0
        self.devices.clear()
