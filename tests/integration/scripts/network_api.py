"""Drive every network API of the libvirt Python bindings against URI (argv[1]).

Runs under /usr/bin/python3 (Debian's python3-libvirt). Prints one JSON
object: what each step returned, or the libvirt error it raised as
[code, domain, message].
"""

import json
import sys

import libvirt
from steps import results, step

URI = sys.argv[1]
MODE = sys.argv[2] if len(sys.argv) > 2 else "network"


NET_XML = """<network>
  <name>apinet</name>
  <uuid>5e1c1a3a-8a61-4c8c-9d54-0d5f7b3b6c01</uuid>
  <forward mode='nat'/>
  <bridge name='virbr42' stp='on' delay='0'/>
  <ip address='10.42.0.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.42.0.10' end='10.42.0.100'/>
    </dhcp>
  </ip>
</network>
"""

libvirt.registerErrorHandler(lambda ctx, err: None, None)
conn = libvirt.open(URI)
step("type", conn.getType)
step("lib_version", conn.getLibVersion)
step("is_secure", conn.isSecure)
step("num_active", conn.numOfNetworks)
step("list_active", conn.listNetworks)
step("num_defined", conn.numOfDefinedNetworks)
step("list_defined", conn.listDefinedNetworks)
step("list_all", lambda: sorted(n.name() for n in conn.listAllNetworks()))
default = conn.networkLookupByName("default")
step("default_uuid", default.UUIDString)
step("default_by_uuid", lambda: conn.networkLookupByUUIDString(default.UUIDString()).name())
step("default_active", default.isActive)
step("default_persistent", default.isPersistent)
step("default_autostart", default.autostart)
step("default_bridge", default.bridgeName)
step("default_xml", lambda: default.XMLDesc(0))
step("bad_flags", lambda: default.XMLDesc(0x100))
step("missing_name", lambda: conn.networkLookupByName("nosuchnet"))
step("missing_uuid",
     lambda: conn.networkLookupByUUIDString("00000000-0000-0000-0000-000000000001"))
step("start_active", default.create)

step("define", lambda: conn.networkDefineXML(NET_XML).name())
net = conn.networkLookupByName("apinet")
step("define_dup_name_other_uuid", lambda: conn.networkDefineXML(
    NET_XML.replace("6c01</uuid>", "6c02</uuid>")))
step("define_malformed", lambda: conn.networkDefineXML("<network><name>broken"))
step("new_inactive", net.isActive)
step("set_autostart", lambda: net.setAutostart(1))
step("autostart_after", net.autostart)
step("list_autostart", lambda: sorted(
    n.name() for n in conn.listAllNetworks(libvirt.VIR_CONNECT_LIST_NETWORKS_AUTOSTART)))
step("list_inactive", lambda: sorted(
    n.name() for n in conn.listAllNetworks(libvirt.VIR_CONNECT_LIST_NETWORKS_INACTIVE)))
step("create", net.create)
step("active_after_create", net.isActive)
step("destroy", net.destroy)
step("destroy_inactive", net.destroy)
step("undefine", net.undefine)
step("gone", lambda: conn.networkLookupByName("apinet"))

transient = NET_XML.replace("apinet", "tnet").replace(
    "5e1c1a3a-8a61-4c8c-9d54-0d5f7b3b6c01", "5e1c1a3a-8a61-4c8c-9d54-0d5f7b3b6c03")
step("create_xml", lambda: conn.networkCreateXML(transient).name())
tnet = conn.networkLookupByName("tnet")
step("transient_persistent", tnet.isPersistent)
step("transient_undefine", tnet.undefine)
step("transient_destroy", tnet.destroy)
step("transient_gone", lambda: conn.networkLookupByName("tnet"))

if MODE == "network":
    step("leases", lambda: default.DHCPLeases())
    step("define_flags_validate", lambda: conn.networkDefineXMLFlags(
        NET_XML.replace("</network>", "<bogus/></network>"), libvirt.VIR_NETWORK_DEFINE_VALIDATE))
    conn.networkDefineXML(NET_XML)
    net = conn.networkLookupByName("apinet")
    step("update_add_host", lambda: net.update(
        libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST, -1,
        "<host mac='52:54:00:00:00:01' name='g1' ip='10.42.0.5'/>",
        libvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG))
    step("update_wrong_section", lambda: net.update(
        libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, libvirt.VIR_NETWORK_SECTION_DNS_TXT, -1,
        "<host mac='52:54:00:00:00:01' name='g1' ip='10.42.0.5'/>",
        libvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG))
    step("xml_after_update", lambda: "52:54:00:00:00:01" in net.XMLDesc(
        libvirt.VIR_NETWORK_XML_INACTIVE))
    net.create()
    port_xml = """<networkport>
  <uuid>7d2a3f4e-1111-2222-3333-444455556666</uuid>
  <owner><name>guest</name><uuid>11111111-2222-3333-4444-555555555555</uuid></owner>
  <mac address='52:54:00:aa:bb:cc'/>
  <bandwidth><inbound average='500'/></bandwidth>
</networkport>"""
    step("ports_empty", lambda: len(net.listAllPorts()))
    step("port_create", lambda: net.portCreateXML(port_xml).UUIDString())
    port = net.portLookupByUUIDString("7d2a3f4e-1111-2222-3333-444455556666")
    step("ports_one", lambda: [p.UUIDString() for p in net.listAllPorts()])
    step("port_xml_has_mac", lambda: "52:54:00:aa:bb:cc" in port.XMLDesc())
    step("port_set_params", lambda: port.setParameters(
        {"inbound.average": 1000, "inbound.peak": 2000}))
    step("port_params", port.parameters)
    step("port_delete", port.delete)
    step("ports_after_delete", lambda: len(net.listAllPorts()))
    net.destroy()
    net.undefine()
else:
    step("leases", lambda: default.DHCPLeases())
    step("ports", lambda: default.listAllPorts())

conn.close()
print(json.dumps(results))
