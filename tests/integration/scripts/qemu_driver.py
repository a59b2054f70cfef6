"""Replay what libvirt's QEMU driver (virtqemud) asks of the network daemon
for a guest with <interface type='network'>, against URI (argv[1]).

Runs under /usr/bin/python3 (Debian's python3-libvirt). Prints one JSON
object: what each step returned, or the libvirt error it raised as
["error", code, domain, message]. The sequence follows libvirt 9.0's
qemu driver (facts: shared/deployment-facts.md): its identity first, the
network looked up, a port without a plug created and its plug read back,
the portgroup's bandwidth in the port, a live bandwidth change, the leases,
the port deleted at guest stop, re-created with RECLAIM and the saved plug
when virtqemud restarts, and the refusals the bridge driver gives it.
"""

import contextlib
import json
import sys

import libvirt
from steps import results, step

URI = sys.argv[1]


NET_XML = """<network>
  <name>qemunet</name>
  <uuid>4b1f5e3c-6a0d-4f8e-9c1b-2d7a3e5f9a01</uuid>
  <forward mode='nat'/>
  <bridge name='rpcqemu0' stp='on' delay='0'/>
  <mac address='52:54:00:7a:51:01'/>
  <portgroup name='gold' default='yes'>
    <bandwidth>
      <inbound average='1000' peak='2000' burst='512'/>
      <outbound average='500'/>
    </bandwidth>
  </portgroup>
  <portgroup name='silver'>
    <bandwidth>
      <inbound average='100'/>
    </bandwidth>
  </portgroup>
  <ip address='10.71.0.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.71.0.10' end='10.71.0.50'/>
    </dhcp>
  </ip>
</network>
"""
IDLE_XML = """<network>
  <name>qemuidle</name>
  <uuid>4b1f5e3c-6a0d-4f8e-9c1b-2d7a3e5f9a02</uuid>
  <bridge name='rpcqemu1'/>
  <mac address='52:54:00:7a:51:02'/>
</network>
"""
OWNER = ("<owner><name>guest1</name>"
         "<uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid></owner>")
PORT_UUID = "f5e2a4b0-1c3d-4e5f-8a9b-0c1d2e3f4a01"


def port_xml(uuid, *, group=None, plug="", extra=""):
    group_xml = f"<group>{group}</group>" if group else ""
    return (f"<networkport><uuid>{uuid}</uuid>{OWNER}{group_xml}"
            f"<mac address='52:54:00:0e:71:01'/>{extra}{plug}</networkport>")


IDENTITY = {
    "user-name": "qemu-owner", "unix-user-id": 64055, "group-name": "kvm",
    "unix-group-id": 994, "process-id": 4242, "process-time": 987654,
    "selinux-context": "system_u:system_r:svirt_t:s0:c1,c2",
}

libvirt.registerErrorHandler(lambda ctx, err: None, None)
conn = libvirt.open(URI)
# virtqemud forwards its guest owner's identity first; without it no guest starts
step("set_identity", lambda: conn.setIdentity(IDENTITY, 0))
# set up by the administrator, not by the QEMU driver
net = conn.networkDefineXML(NET_XML)
idle = conn.networkDefineXML(IDLE_XML)
try:
    net.create()
    # define/start of the guest: the network looked up and read
    step("lookup", lambda: conn.networkLookupByName("qemunet").UUIDString())
    step("xml", lambda: net.XMLDesc(0))
    # start: a port without a plug; the daemon answers with the plug
    port = None

    def create():
        global port
        port = net.portCreateXML(port_xml(PORT_UUID, group="gold"), 0)
        return port.UUIDString()

    step("port_create", create)
    step("port_xml", lambda: port.XMLDesc(0))
    saved = port.XMLDesc(0)
    step("port_params", lambda: port.parameters(0))
    step("port_list", lambda: sorted(p.UUIDString() for p in net.listAllPorts(0)))
    # a live bandwidth change (virsh domiftune)
    step("set_params", lambda: port.setParameters(
        {"inbound.average": 3000, "inbound.peak": 4000, "inbound.burst": 1024,
         "outbound.average": 700, "outbound.peak": 800, "outbound.burst": 256}, 0))
    step("port_params_after", lambda: port.parameters(0))
    step("port_xml_after", lambda: port.XMLDesc(0))
    step("set_params_floor", lambda: port.setParameters({"inbound.floor": 100}, 0))
    # domifaddr --source lease
    step("leases", lambda: net.DHCPLeases())
    step("leases_mac", lambda: net.DHCPLeases("52:54:00:0e:71:01"))
    # refusals: a duplicate uuid, a plug without RECLAIM, RECLAIM without a
    # plug, a virtualport on a NAT network, an inactive network
    step("dup_uuid", lambda: net.portCreateXML(port_xml(PORT_UUID), 0).UUIDString())
    step("plug_without_reclaim", lambda: net.portCreateXML(
        saved.replace(PORT_UUID, "f5e2a4b0-1c3d-4e5f-8a9b-0c1d2e3f4a02"), 0).UUIDString())
    step("reclaim_without_plug", lambda: net.portCreateXML(
        port_xml("f5e2a4b0-1c3d-4e5f-8a9b-0c1d2e3f4a03"),
        libvirt.VIR_NETWORK_PORT_CREATE_RECLAIM).UUIDString())
    step("virtualport_on_nat", lambda: net.portCreateXML(
        port_xml("f5e2a4b0-1c3d-4e5f-8a9b-0c1d2e3f4a04",
                 extra="<virtualport type='openvswitch'/>"), 0).UUIDString())
    step("inactive_network", lambda: idle.portCreateXML(
        port_xml("f5e2a4b0-1c3d-4e5f-8a9b-0c1d2e3f4a05"), 0).UUIDString())
    step("unknown_group", lambda: net.portCreateXML(
        port_xml("f5e2a4b0-1c3d-4e5f-8a9b-0c1d2e3f4a06", group="bronze"), 0).UUIDString())
    step("port_list_after_refusals", lambda: sorted(p.UUIDString() for p in net.listAllPorts(0)))
    # guest stop: looked up by uuid and deleted
    step("stop_lookup", lambda: net.portLookupByUUIDString(PORT_UUID).UUIDString())
    step("stop_delete", lambda: net.portLookupByUUIDString(PORT_UUID).delete(0))
    step("gone", lambda: net.portLookupByUUIDString(PORT_UUID).UUIDString())
    step("delete_again", lambda: port.delete(0))
    # virtqemud restarts with the guest running: the port comes back with
    # its saved plug and RECLAIM
    step("reclaim", lambda: net.portCreateXML(
        saved, libvirt.VIR_NETWORK_PORT_CREATE_RECLAIM).UUIDString())
    step("reclaim_xml", lambda: net.portLookupByUUIDString(PORT_UUID).XMLDesc(0))
    step("reclaim_params", lambda: net.portLookupByUUIDString(PORT_UUID).parameters(0))
    # a second guest in the other portgroup
    step("silver", lambda: net.portCreateXML(
        port_xml("f5e2a4b0-1c3d-4e5f-8a9b-0c1d2e3f4a07", group="silver"), 0).XMLDesc(0))
    step("final_ports", lambda: sorted(p.UUIDString() for p in net.listAllPorts(0)))
    for p in net.listAllPorts(0):
        p.delete(0)
    step("destroy_with_ports_gone", lambda: net.destroy())
finally:
    for network in (net, idle):
        with contextlib.suppress(libvirt.libvirtError):
            network.destroy()
        network.undefine()
conn.close()
print(json.dumps(results, sort_keys=True))
