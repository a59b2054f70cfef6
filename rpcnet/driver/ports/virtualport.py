"""Virtualport profiles of a port: merged from the port, the network and
the portgroup as libvirt merges them, completed, and checked against the
network's forward mode."""

from __future__ import annotations

import dataclasses
import uuid as uuidlib

from rpcnet.errors import ErrorCode, VirError, netdev_error, network_error
from rpcnet.netxml import NetworkDef, VirtualPortDef
from rpcnet.netxml.netdev import missing_parameter


def merge_virtualports(*profiles: VirtualPortDef | None) -> VirtualPortDef | None:
    """libvirt's virNetDevVPortProfileMerge3 (port, network, portgroup): each
    later profile fills in what the earlier left unset; a different value
    for something already set is an error."""
    if all(p is None or p.type is None for p in profiles):
        return None
    first, *rest = profiles
    result = first or VirtualPortDef()
    for mods in rest:
        if mods is not None:
            result = _merge(result, mods)
    return result


_FOR_TYPE = {
    "managerid": ("802.1Qbg", None),
    "typeid": ("802.1Qbg", None),
    "typeidversion": ("802.1Qbg", None),
    "instanceid": ("802.1Qbg", None),
    "interfaceid": ("openvswitch", None),
    "profileid": ("openvswitch", "802.1Qbh", None),
}
_MISMATCH = {
    "managerid": "managerids ({} and {})",
    "typeid": "typeids ({} and {})",
    "typeidversion": "typeidversions ({} and {})",
    "instanceid": "instanceids ('{}' and '{}')",
    "interfaceid": "interfaceids ('{}' and '{}')",
    "profileid": "profileids ('{}' and '{}')",
}


def _merge(orig: VirtualPortDef, mods: VirtualPortDef) -> VirtualPortDef:
    kind = orig.type
    if mods.type is not None:
        if kind is not None and kind != mods.type:
            raise _merge_error(f"types ({kind} and {mods.type})")
        kind = mods.type
    changes: dict[str, object] = {"type": kind}
    for name, types in _FOR_TYPE.items():
        new = getattr(mods, name)
        if new is None or kind not in types:
            continue
        old = getattr(orig, name)
        if old is not None and old != new:
            raise _merge_error(_MISMATCH[name].format(old, new))
        changes[name] = new
    return dataclasses.replace(orig, **changes)  # type: ignore[arg-type]


def _merge_error(what: str) -> VirError:
    detail = f"attempt to merge virtualports with mismatched {what}"
    return netdev_error(ErrorCode.XML_ERROR, detail)


def complete_virtualport(vport: VirtualPortDef | None) -> VirtualPortDef | None:
    """virNetDevVPortProfileCheckComplete with generation: a missing
    instanceid (802.1Qbg) or interfaceid (openvswitch) is made up; other
    missing parameters are errors."""
    if vport is None or vport.type is None:
        return vport
    problem = missing_parameter(vport)
    if problem is not None:
        raise problem
    if vport.type == "802.1Qbg" and vport.instanceid is None:
        vport = dataclasses.replace(vport, instanceid=uuidlib.uuid4())
    if vport.type == "openvswitch" and vport.interfaceid is None:
        vport = dataclasses.replace(vport, interfaceid=uuidlib.uuid4())
    return vport


def virtualport_refused(vport: VirtualPortDef, net: NetworkDef, which: str) -> VirError:
    return network_error(
        ErrorCode.CONFIG_UNSUPPORTED,
        f"<virtualport type='{vport.type or 'none'}'> not supported for network "
        f"'{net.name}' which uses {which}",
    )

