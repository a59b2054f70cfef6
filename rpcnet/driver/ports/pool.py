"""A forward mode's pool of host devices, and the virtual functions of an
SR-IOV physical function that stand in for it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from rpcnet.errors import ErrorCode, network_error
from rpcnet.netxml import ForwardMode, NetworkDef, PciAddress

#: The virtual functions of a PF: (PCI address, netdev name or None), as a
#: backend finds them (:meth:`rpcnet.driver.backend.Backend.virtual_functions`).
VirtualFunctions = Callable[[str], list[tuple[PciAddress, str | None]]]


def interface_pool(net: NetworkDef, vfs: VirtualFunctions) -> NetworkDef:
    """libvirt's networkCreateInterfacePool: a network naming a ``pf`` and no
    pool gets the PF's virtual functions (their netdevs for macvtap modes,
    their PCI addresses for hostdev). Raises as libvirt when there are none."""
    fwd = net.forward
    if fwd is None or fwd.pf is None or fwd.interfaces or fwd.addresses:
        return net
    found = vfs(fwd.pf)
    if fwd.mode is ForwardMode.HOSTDEV:
        pool = dataclasses.replace(fwd, addresses=tuple(addr for addr, _ in found))
    else:
        names = tuple(name for _, name in found if name is not None)
        pool = dataclasses.replace(fwd, interfaces=names)
    if not (pool.interfaces or pool.addresses):
        raise network_error(
            ErrorCode.INTERNAL_ERROR, f"No usable Vf's present on SRIOV PF {fwd.pf}"
        )
    return dataclasses.replace(net, forward=pool)

