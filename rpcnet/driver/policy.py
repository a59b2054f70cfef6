"""The two libvirt drivers a network service imitates, as data.

``NETWORK`` is libvirt 9.0's bridge driver (``network:///system``); ``TEST``
is its ``test:///default`` driver. Where their answers differ (checked with
``/usr/bin/python3 -c 'import libvirt'`` against ``test:///default`` and the
bridge driver's source and captures), a field here says how, and the
service asks the policy rather than testing the flags itself.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass

from rpcnet.errors import ErrorCode, ErrorDomain, VirError, network_error

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
class Policy:
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

    def error(self, code: ErrorCode, detail: str) -> VirError:
        """An error of the driver itself, in its own domain (NETWORK or TEST)."""
        return VirError.make(code, self.domain, detail)

    def check_flags(self, flags: int, allowed: int, func: str) -> None:
        """libvirt's virCheckFlags in the driver's function ``func`` (see :meth:`func`)."""
        unknown = int(flags) & ~int(allowed)  # ~ of an IntFlag keeps only its own bits
        if unknown:
            raise VirError.invalid_flags(self.domain, unknown, self.func(func))

    # -- where the two drivers' lifecycles differ -----------------------------

    def already_running(self, name: str) -> VirError:
        """The error for starting a network that runs."""
        if self.strict_lifecycle:
            return network_error(ErrorCode.OPERATION_INVALID, "network is already active")
        return self.error(ErrorCode.OPERATION_INVALID, f"Network '{name}' is already running")

    def check_destroy(self, name: str, *, active: bool) -> None:
        """The bridge driver refuses to destroy an inactive network; the test
        driver's destroy of one succeeds."""
        if not active and self.strict_lifecycle:
            raise network_error(ErrorCode.OPERATION_INVALID, f"network '{name}' is not active")

    def check_undefine(self, name: str, *, persistent: bool, active: bool) -> None:
        """The bridge driver refuses to undefine a transient network (a running
        persistent one becomes transient); the test driver a running one."""
        if self.strict_lifecycle:
            if not persistent:
                raise network_error(ErrorCode.OPERATION_INVALID, "can't undefine transient network")
        elif active:
            raise self.error(ErrorCode.OPERATION_INVALID, f"Network '{name}' is still running")

    def check_set_autostart(self, *, persistent: bool) -> None:
        """The bridge driver refuses autostart for a transient network; the
        test driver accepts (and forgets) it."""
        if not persistent and self.strict_lifecycle:
            raise network_error(
                ErrorCode.OPERATION_INVALID, "cannot set autostart for transient network"
            )

    @property
    def keeps_ran_definition(self) -> bool:
        """test:///default: after a destroy the definition the network ran as
        stays its current one, and a later start runs it again (see
        :attr:`~rpcnet.driver.netobj.NetObj.stale`)."""
        return not self.strict_lifecycle

    @property
    def starts_default_itself(self) -> bool:
        """test:///default runs ``default`` from the start; the bridge driver
        autostarts it."""
        return not self.default_autostart


NETWORK = Policy(
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

TEST = Policy(
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

POLICIES = {policy.name: policy for policy in (NETWORK, TEST)}


def get_policy(policy: Policy | str) -> Policy:
    """A :class:`Policy` from itself or its name (``"network"``, ``"test"``)."""
    if isinstance(policy, Policy):
        return policy
    try:
        return POLICIES[policy]
    except KeyError:
        raise ValueError(f"unknown driver policy {policy!r}") from None
