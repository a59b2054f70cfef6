"""What libvirt's bridge driver reads of the host's SR-IOV devices in sysfs."""

from __future__ import annotations

import os
import re
from pathlib import Path

from rpcnet.netxml import PciAddress

_PCI_RE = re.compile(r"^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$")


def virtual_functions(
    pf: str, sysfs: Path = Path("/sys")
) -> list[tuple[PciAddress, str | None]]:
    """The ``virtfnN`` links of ``/sys/class/net/PF/device`` in order, each
    with the first netdev of that function (None when no driver binds one)."""
    device = sysfs / "class" / "net" / pf / "device"
    try:
        links = [p for p in device.iterdir() if p.name.startswith("virtfn")]
    except OSError:
        return []
    found: list[tuple[PciAddress, str | None]] = []
    for link in sorted(links, key=lambda p: int(p.name[6:] or 0)):
        match = _PCI_RE.match(os.path.basename(os.readlink(link)))
        if match is None:
            continue
        domain, bus, slot, function = (int(part, 16) for part in match.groups())
        addr = PciAddress(domain=domain, bus=bus, slot=slot, function=function)
        try:
            names = sorted(os.listdir(link / "net"))
        except OSError:
            names = []
        found.append((addr, names[0] if names else None))
    return found


def is_virtual_function(addr: PciAddress) -> bool:
    """Whether the host's PCI device ``addr`` is an SR-IOV virtual function
    (libvirt's virPCIIsVirtualFunction: it has a ``physfn`` link in sysfs)."""
    return Path(addr.sysfs_path, "physfn").exists()
