"""NetworkService("test") against the real libvirt 9.0 test:///default driver.

The same script of calls runs in-process in /usr/bin/python3 (libvirt's
python bindings, test:///default) and against a fresh NetworkService; every
answer and every error (code, domain, message) must be the same. Network
order is compared sorted: libvirt returns its hash-table order.
"""

from __future__ import annotations

import json
from typing import Any

from rpcnet.driver.service import NetworkService, open_memory
from rpcnet.errors import VirError
from rpcnet.protocol.values import NetworkRef
from tests.peers.virsh import python_json

U1 = "11111111-1111-4111-8111-111111111111"
U2 = "22222222-2222-4222-8222-222222222222"
U3 = "33333333-3333-4333-8333-333333333333"
HOST = "<host mac='52:54:00:00:00:01' ip='192.168.122.5'/>"
DHCP_NET = "<ip address='10.9.9.1' netmask='255.255.255.0'><dhcp/></ip>"


def net(name: str, uuid: str | None = None, extra: str = "") -> str:
    uuid_el = f"<uuid>{uuid}</uuid>" if uuid else ""
    return f"<network><name>{name}</name>{uuid_el}{extra}</network>"


# (operation, network name or None, arguments)
SCRIPT: list[tuple[str, str | None, list[Any]]] = [
    ("xml", "default", [0]),
    ("xml", "default", [1]),
    ("define", None, [net("a", U1)]),
    ("define", None, [net("a")]),
    ("define", None, [net("b", U1)]),
    ("define", None, [net("a", U1)]),
    ("xml", "a", [0]),
    ("bridge", "a", []),
    ("create_xml", None, [net("a", U1)]),
    ("create_xml", None, [net("a", U1)]),
    ("create", "a", []),
    ("undefine", "a", []),
    ("destroy", "a", []),
    ("destroy", "a", []),
    ("create_xml", None, [net("t", U2, DHCP_NET)]),
    ("persistent", "t", []),
    ("set_autostart", "t", [1]),
    ("autostart", "t", []),
    ("update", "t", [3, 4, -1, HOST.replace("192.168.122", "10.9.9"), 2]),
    ("list", None, [0]),
    ("list", None, [1]),
    ("list", None, [2]),
    ("list", None, [4]),
    ("list", None, [8]),
    ("list", None, [16]),
    ("list", None, [32]),
    ("list", None, [64]),
    ("counts", None, []),
    ("destroy", "t", []),
    ("lookup", "t", []),
    ("lookup_uuid", None, [U3]),
    ("update", "default", [3, 4, -1, HOST, 0]),
    ("xml", "default", [0]),
    ("update", "a", [3, 4, -1, HOST, 1]),
    ("update", "a", [3, 4, -1, HOST, 8]),
    ("leases", "default", []),
    ("ports", "default", []),
    ("deregister", None, [99]),
    ("undefine", "a", []),
    ("lookup", "a", []),
]

LIBVIRT_SIDE = r"""
import json, sys, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
libvirt.virEventRegisterDefaultImpl()
c = libvirt.open("test:///default")
def run(op, name, args):
    n = c.networkLookupByName(name) if name else None
    if op == "xml": return n.XMLDesc(*args)
    if op == "define": return c.networkDefineXML(*args).name()
    if op == "create_xml": return c.networkCreateXML(*args).name()
    if op == "create": return n.create()
    if op == "destroy": return n.destroy()
    if op == "undefine": return n.undefine()
    if op == "bridge": return n.bridgeName()
    if op == "persistent": return bool(n.isPersistent())
    if op == "set_autostart": return n.setAutostart(*args)
    if op == "autostart": return bool(n.autostart())
    if op == "update": return n.update(*args)
    if op == "list": return sorted(x.name() for x in c.listAllNetworks(*args))
    if op == "counts": return [c.numOfNetworks(), c.numOfDefinedNetworks(),
                               sorted(c.listNetworks()), sorted(c.listDefinedNetworks())]
    if op == "lookup": return c.networkLookupByName(args[0] if args else name).name()
    if op == "lookup_uuid": return c.networkLookupByUUIDString(*args).name()
    if op == "leases": return n.DHCPLeases()
    if op == "ports": return n.listAllPorts()
    if op == "deregister": return c.networkEventDeregisterAny(*args)
    raise AssertionError(op)
out = []
for op, name, args in json.loads(sys.argv[1]):
    if op == "lookup": name, args = None, [name]
    try:
        r = run(op, name, args)
        out.append({"ok": 0 if r is None else r})
    except libvirt.libvirtError as e:
        out.append({"error": [e.get_error_code(), e.get_error_domain(), e.get_error_message()]})
print(json.dumps(out))
"""


async def run_ours(drv: NetworkService, op: str, name: str | None, args: list[Any]) -> Any:
    ref: NetworkRef | None = None
    if name is not None and op != "lookup":
        ref = await drv.network_lookup_by_name(name)
    if op == "xml":
        return await drv.network_get_xml_desc(ref, *args)  # type: ignore[arg-type]
    if op == "define":
        return (await drv.network_define_xml(args[0])).name
    if op == "create_xml":
        return (await drv.network_create_xml(args[0])).name
    if op == "list":
        return sorted(r.name for r in await drv.connect_list_all_networks(args[0]))
    if op == "counts":
        return [
            await drv.connect_num_of_networks(),
            await drv.connect_num_of_defined_networks(),
            sorted(await drv.connect_list_networks(100)),
            sorted(await drv.connect_list_defined_networks(100)),
        ]
    if op == "lookup":
        return (await drv.network_lookup_by_name(name or "")).name
    if op == "lookup_uuid":
        return (await drv.network_lookup_by_uuid(bytes.fromhex(args[0].replace("-", "")))).name
    if op == "deregister":
        return await drv.connect_network_event_deregister_any(args[0])
    assert ref is not None
    calls = {
        "create": lambda: drv.network_create(ref),
        "destroy": lambda: drv.network_destroy(ref),
        "undefine": lambda: drv.network_undefine(ref),
        "bridge": lambda: drv.network_get_bridge_name(ref),
        "persistent": lambda: drv.network_is_persistent(ref),
        "set_autostart": lambda: drv.network_set_autostart(ref, bool(args[0])),
        "autostart": lambda: drv.network_get_autostart(ref),
        "update": lambda: drv.network_update(ref, *args),
        "leases": lambda: drv.network_get_dhcp_leases(ref, None, 0),
        "ports": lambda: drv.network_list_all_ports(ref, 0),
    }
    return await calls[op]()


async def test_same_answers_as_libvirt_test_driver(system_python: str) -> None:
    theirs = python_json(LIBVIRT_SIDE, json.dumps(SCRIPT))
    drv = await open_memory("test")
    ours = []
    for op, name, args in SCRIPT:
        try:
            result = await run_ours(drv, op, name, args)
            ours.append({"ok": 0 if result is None else result})
        except VirError as exc:
            ours.append({"error": [exc.code, exc.domain, exc.message]})
    for step, mine, real in zip(SCRIPT, ours, theirs, strict=True):
        assert mine == real, f"step {step}"
