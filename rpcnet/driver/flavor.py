"""The two libvirt drivers the in-memory driver imitates, as data.

``NETWORK`` is libvirt 9.0's bridge driver (``network:///system``); ``TEST``
is its ``test:///default`` driver. Where their answers differ (checked with
``/usr/bin/python3 -c 'import libvirt'`` against ``test:///default`` and the
bridge driver's source and captures), a field here says how.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass

from rpcnet.errors import ErrorDomain

from .base import XmlFlags

# /usr/share/libvirt/networks/default.xml as libvirt ships it.
DEFAULT_NETWORK_XML = (
    "<network><name>default</name><bridge name='virbr0'/><forward/>"
    "<ip address='192.168.122.1' netmask='255.255.255.0'><dhcp>"
    "<range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip></network>"
)

# `virsh -c test:///default net-dumpxml default`
TEST_DEFAULT_XML = """<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Flavor:
    """How one libvirt network driver behaves."""

    name: str
    type_name: str  # virConnectGetType
    domain: int  # error domain of the driver's own errors
    # C function names in flag errors: networkGetXMLDesc, networkConnectListAllNetworks
    # on the bridge driver; testNetworkGetXMLDesc, testConnectListAllNetworks.
    func_prefix: str
    net_func_prefix: str
    default_xml: str
    default_autostart: bool
    # Bridge driver: fill virbrN/mac, refuse bridge clashes and subnet overlap.
    fill_defaults: bool
    xml_flags: int  # accepted virNetworkGetXMLDesc flags
    has_ports_and_leases: bool
    # Bridge driver: state errors; test driver: destroy of an inactive network
    # succeeds, undefine of a running one fails, autostart of a transient one
    # is accepted, and a definition replaced while running is never applied.
    strict_lifecycle: bool
    # Test driver resolves handles by name; the bridge driver by uuid.
    handles_by_name: bool

    def func(self, name: str) -> str:
        """libvirt's C function name: ``func("GetXMLDesc")``, ``func("ConnectListAllNetworks")``."""
        prefix = self.func_prefix if name.startswith("Connect") else self.net_func_prefix
        return f"{prefix}{name}"


NETWORK = Flavor(
    name="network",
    type_name="network",
    domain=ErrorDomain.NETWORK,
    func_prefix="network",
    net_func_prefix="network",
    default_xml=DEFAULT_NETWORK_XML,
    default_autostart=True,
    fill_defaults=True,
    xml_flags=XmlFlags.INACTIVE,
    has_ports_and_leases=True,
    strict_lifecycle=True,
    handles_by_name=False,
)

TEST = Flavor(
    name="test",
    type_name="TEST",
    domain=ErrorDomain.TEST,
    func_prefix="test",
    net_func_prefix="testNetwork",
    default_xml=TEST_DEFAULT_XML,
    default_autostart=False,
    fill_defaults=False,
    xml_flags=0,
    has_ports_and_leases=False,
    strict_lifecycle=False,
    handles_by_name=True,
)

TEST_DEFAULT_UUID = uuidlib.UUID("dd8fe884-6c02-601e-7551-cca97df1c5df")

FLAVORS = {flavor.name: flavor for flavor in (NETWORK, TEST)}


def get_flavor(flavor: Flavor | str) -> Flavor:
    """A :class:`Flavor` from itself or its name (``"network"``, ``"test"``)."""
    if isinstance(flavor, Flavor):
        return flavor
    try:
        return FLAVORS[flavor]
    except KeyError:
        raise ValueError(f"unknown driver flavor {flavor!r}") from None
