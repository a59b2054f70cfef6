"""The REMOTE program (0x20008086 v1): wire types and the procedure table.

Every procedure rpcnet speaks is declared once in :data:`PROCEDURES` with
its number, argument and return types, whether a read-only connection may
call it, who answers it and how its arguments map onto that
(:class:`~rpcnet.protocol.program.CallStyle`), and for driver calls the
``NetworkDriver`` method that serves it, by name. Server dispatch, client
stubs, read-only enforcement and docs/procedures.md are all derived from
this table; :data:`REMOTE` is the program as a connection takes it.

Procedures of libvirt 9.0 outside the network subset are known by name
only (:data:`ALL_NAMES`, :func:`public_api_name`), so they can be answered
with libvirt's "not supported by the connection driver" error.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from rpcnet.errors import ErrorDomain, VirError, internal_error
from rpcnet.protocol.program import DRIVER_STYLES, Program
from rpcnet.protocol.program import CallStyle as CallStyle
from rpcnet.protocol.program import Procedure as Procedure
from rpcnet.protocol.values import DhcpLease, ParamType, PortRef
from rpcnet.protocol.wiretypes import NET as NET
from rpcnet.protocol.wiretypes import NONNULL_STRING, ONET, OSTRING, UUID
from rpcnet.protocol.wiretypes import TYPED_PARAM as TYPED_PARAM
from rpcnet.protocol.wiretypes import decode_error as decode_error
from rpcnet.protocol.wiretypes import encode_error as encode_error
from rpcnet.protocol.xdr import (
    BOOL,
    HYPER,
    INT,
    UHYPER,
    UINT,
    VOID,
    XdrType,
    array,
    struct_type,
)

PROGRAM = 0x20008086
VERSION = 1

NETWORK_LIST_MAX = 16384
NETWORK_PORT_LIST_MAX = 16384
DHCP_LEASES_MAX = 65536
PORT_PARAMETERS_MAX = 16
AUTH_TYPE_LIST_MAX = 20
IDENTITY_PARAMS_MAX = 20

#: the parameters CONNECT_SET_IDENTITY takes (libvirt 9.0's
#: ``virIdentitySetParameters``, its internal system token included) and the
#: type of each
IDENTITY_PARAMS: dict[str, int] = {
    "user-name": ParamType.STRING, "unix-user-id": ParamType.ULLONG,
    "group-name": ParamType.STRING, "unix-group-id": ParamType.ULLONG,
    "process-id": ParamType.LLONG, "process-time": ParamType.ULLONG,
    "sasl-user-name": ParamType.STRING, "x509-distinguished-name": ParamType.STRING,
    "selinux-context": ParamType.STRING, "system.token": ParamType.STRING,
}

# -- building blocks (the shared ones are in wiretypes) ----------------------

PORT = struct_type("remote_nonnull_network_port", [("network", NET), ("uuid", UUID)], PortRef)

LEASE = struct_type(
    "remote_network_dhcp_lease",
    [
        ("iface", NONNULL_STRING),
        ("expirytime", HYPER),
        ("type", INT),
        ("mac", OSTRING),
        ("iaid", OSTRING),
        ("ipaddr", NONNULL_STRING),
        ("prefix", UINT),
        ("hostname", OSTRING),
        ("clientid", OSTRING),
    ],
    DhcpLease,
)


def _args(name: str, *fields: tuple[str, XdrType]) -> XdrType:
    """An argument or return struct; values are tuples in field order."""
    return struct_type(name, list(fields))


# -- every procedure of libvirt 9.0, by name --------------------------------


def _load_names() -> dict[int, str]:
    text = resources.files(__package__).joinpath("remote_procedures.txt").read_text()
    names: dict[int, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            number, name = line.split()
            names[int(number)] = name
    return names


ALL_NAMES: dict[int, str] = _load_names()

_ACRONYMS = {
    "XML", "UUID", "ID", "DHCP", "URI", "CPU", "OS", "MAC", "FS", "IO", "SCSI", "NUMA", "PCI",
    "USB", "LXC", "QEMU", "TLS", "SEV", "SGX", "FD", "FDS", "IOTHREAD", "VCPU", "VCPUS",
}
_SPELLING = {"IOTHREAD": "IOThread", "VCPU": "Vcpu", "VCPUS": "Vcpus", "FDS": "FDs",
             "NWFILTER": "NWFilter", "NWFILTERS": "NWFilters"}


def public_api_name(procedure_name: str) -> str:
    """The public API function behind a procedure: ``NETWORK_GET_XML_DESC``
    -> ``virNetworkGetXMLDesc``."""
    words = []
    for word in procedure_name.split("_"):
        if word in _SPELLING:
            words.append(_SPELLING[word])
        elif word in _ACRONYMS:
            words.append(word)
        else:
            words.append(word.capitalize())
    return "vir" + "".join(words)


# The error domain of each public API source file (its VIR_FROM_THIS), by the
# words of the procedure name; everything else is in libvirt-domain.c or
# libvirt-host.c, whose domain is VIR_FROM_DOMAIN.
_API_DOMAINS = (
    ("SNAPSHOT", 35), ("CHECKPOINT", 69), ("NWFILTER", 33), ("STORAGE", 18),
    ("NODE_DEVICE", 22), ("INTERFACE", 26), ("SECRET", 30), ("NETWORK", 19),
)


def api_error_domain(procedure_name: str) -> int:
    """The error domain libvirt's public API layer reports for this procedure."""
    for word, domain in _API_DOMAINS:
        if word in procedure_name:
            if procedure_name.startswith("DOMAIN_") and domain not in (35, 69):
                break  # e.g. DOMAIN_INTERFACE_STATS lives in libvirt-domain.c
            return domain
    return 20


# libvirtd reaches the driver of a call through the connection of its kind:
# the secondary drivers' calls (these words in the name, libvirt's
# gendispatch.pl rule) through one opened on demand, which says "connection
# not open" before CONNECT_OPEN; the rest through the "hypervisor" connection.
# (The SASL calls, AUTH_*, libvirtd answers "authentication failed" when it
# has no SASL; rpcnetd has none and keeps "connection not open" for them.)
_SECONDARY_DRIVER_WORDS = ("NETWORK", "INTERFACE", "NODE_DEVICE", "NWFILTER", "SECRET",
                           "STORAGE", "AUTH_")


def not_open_error(procedure_name: str) -> VirError:
    """libvirtd's answer to ``procedure_name`` called before CONNECT_OPEN."""
    if any(word in procedure_name for word in _SECONDARY_DRIVER_WORDS):
        return internal_error(ErrorDomain.RPC, "connection not open")
    return internal_error(ErrorDomain.RPC, "hypervisor connection not open")


# -- the procedure table ----------------------------------------------------


#: the argument "struct" of procedures without arguments: decodes to ``()``
NO_ARGS = struct_type("void_args", [])


def _proc(
    number: int,
    name: str,
    args: XdrType = NO_ARGS,
    ret: XdrType = VOID,
    *,
    readonly: bool = True,
    style: CallStyle = CallStyle.PLAIN,
    method: str | None = None,
) -> Procedure:
    if (method is not None) != (style in DRIVER_STYLES):
        raise ValueError(f"{name}: a driver method goes with exactly the driver call styles")
    return Procedure(number, name, args, ret, readonly, style, public_api_name(name), method)


C, S, L = CallStyle.CONNECTION, CallStyle.SESSION, CallStyle.LIST_ALL

# Each driver row names its NetworkDriver method (rpcnet/driver/base.py);
# tests/unit/test_remote_table.py checks that it exists and takes the
# arguments its CallStyle passes.
PROCEDURES: tuple[Procedure, ...] = (
    # connection setup and properties
    _proc(66, "AUTH_LIST", ret=_args("auth_list_ret", ("types", array(INT, AUTH_TYPE_LIST_MAX))),
          style=C),
    _proc(60, "CONNECT_SUPPORTS_FEATURE", _args("supports_feature_args", ("feature", INT)),
          _args("supports_feature_ret", ("supported", INT)), style=C),
    _proc(1, "CONNECT_OPEN", _args("open_args", ("name", OSTRING), ("flags", UINT)), style=S),
    _proc(2, "CONNECT_CLOSE", style=S),
    _proc(3, "CONNECT_GET_TYPE", ret=_args("get_type_ret", ("type", NONNULL_STRING)),
          method="connect_get_type"),
    _proc(4, "CONNECT_GET_VERSION", ret=_args("get_version_ret", ("hv_ver", UHYPER)),
          method="connect_get_version"),
    _proc(59, "CONNECT_GET_HOSTNAME", ret=_args("get_hostname_ret", ("hostname", NONNULL_STRING)),
          method="connect_get_hostname"),
    _proc(110, "CONNECT_GET_URI", ret=_args("get_uri_ret", ("uri", NONNULL_STRING)), style=S),
    _proc(149, "CONNECT_IS_SECURE", ret=_args("is_secure_ret", ("secure", INT)), style=S),
    _proc(157, "CONNECT_GET_LIB_VERSION", ret=_args("get_lib_version_ret", ("lib_ver", UHYPER)),
          style=S),
    _proc(419, "CONNECT_SET_IDENTITY",
          _args("set_identity_args", ("params", array(TYPED_PARAM, IDENTITY_PARAMS_MAX)),
                ("flags", UINT)), style=S),
    _proc(360, "CONNECT_REGISTER_CLOSE_CALLBACK", style=S),
    _proc(361, "CONNECT_UNREGISTER_CLOSE_CALLBACK", style=S),
    # networks: listing
    _proc(52, "CONNECT_NUM_OF_NETWORKS", ret=_args("num_ret", ("num", INT)),
          method="connect_num_of_networks"),
    _proc(38, "CONNECT_LIST_NETWORKS", _args("list_args", ("maxnames", INT)),
          _args("list_ret", ("names", array(NONNULL_STRING, NETWORK_LIST_MAX))),
          method="connect_list_networks"),
    _proc(50, "CONNECT_NUM_OF_DEFINED_NETWORKS", ret=_args("num_ret", ("num", INT)),
          method="connect_num_of_defined_networks"),
    _proc(36, "CONNECT_LIST_DEFINED_NETWORKS", _args("list_args", ("maxnames", INT)),
          _args("list_ret", ("names", array(NONNULL_STRING, NETWORK_LIST_MAX))),
          method="connect_list_defined_networks"),
    _proc(283, "CONNECT_LIST_ALL_NETWORKS",
          _args("list_all_args", ("need_results", INT), ("flags", UINT)),
          _args("list_all_ret", ("nets", array(NET, NETWORK_LIST_MAX)), ("ret", UINT)), style=L,
          method="connect_list_all_networks"),
    # networks: lookup and lifecycle
    _proc(46, "NETWORK_LOOKUP_BY_NAME", _args("by_name_args", ("name", NONNULL_STRING)),
          _args("net_ret", ("net", NET)), method="network_lookup_by_name"),
    _proc(47, "NETWORK_LOOKUP_BY_UUID", _args("by_uuid_args", ("uuid", UUID)),
          _args("net_ret", ("net", NET)), method="network_lookup_by_uuid"),
    _proc(40, "NETWORK_CREATE_XML", _args("xml_args", ("xml", NONNULL_STRING)),
          _args("net_ret", ("net", NET)), readonly=False, method="network_create_xml"),
    _proc(437, "NETWORK_CREATE_XML_FLAGS",
          _args("xml_flags_args", ("xml", NONNULL_STRING), ("flags", UINT)),
          _args("net_ret", ("net", NET)), readonly=False, method="network_create_xml_flags"),
    _proc(41, "NETWORK_DEFINE_XML", _args("xml_args", ("xml", NONNULL_STRING)),
          _args("net_ret", ("net", NET)), readonly=False, method="network_define_xml"),
    _proc(432, "NETWORK_DEFINE_XML_FLAGS",
          _args("xml_flags_args", ("xml", NONNULL_STRING), ("flags", UINT)),
          _args("net_ret", ("net", NET)), readonly=False, method="network_define_xml_flags"),
    _proc(49, "NETWORK_UNDEFINE", _args("net_args", ("net", NET)), readonly=False,
          method="network_undefine"),
    _proc(39, "NETWORK_CREATE", _args("net_args", ("net", NET)), readonly=False,
          method="network_create"),
    _proc(42, "NETWORK_DESTROY", _args("net_args", ("net", NET)), readonly=False,
          method="network_destroy"),
    _proc(291, "NETWORK_UPDATE",
          _args("update_args", ("net", NET), ("command", UINT), ("section", UINT),
                ("parent_index", INT), ("xml", NONNULL_STRING), ("flags", UINT)), readonly=False,
          method="network_update"),
    # networks: inspection
    _proc(43, "NETWORK_GET_XML_DESC", _args("xml_desc_args", ("net", NET), ("flags", UINT)),
          _args("xml_ret", ("xml", NONNULL_STRING)), method="network_get_xml_desc"),
    _proc(45, "NETWORK_GET_BRIDGE_NAME", _args("net_args", ("net", NET)),
          _args("bridge_ret", ("name", NONNULL_STRING)), method="network_get_bridge_name"),
    _proc(44, "NETWORK_GET_AUTOSTART", _args("net_args", ("net", NET)),
          _args("autostart_ret", ("autostart", BOOL)), method="network_get_autostart"),
    _proc(48, "NETWORK_SET_AUTOSTART",
          _args("set_autostart_args", ("net", NET), ("autostart", BOOL)), readonly=False,
          method="network_set_autostart"),
    _proc(152, "NETWORK_IS_ACTIVE", _args("net_args", ("net", NET)),
          _args("active_ret", ("active", BOOL)), method="network_is_active"),
    _proc(153, "NETWORK_IS_PERSISTENT", _args("net_args", ("net", NET)),
          _args("persistent_ret", ("persistent", BOOL)), method="network_is_persistent"),
    _proc(341, "NETWORK_GET_DHCP_LEASES",
          _args("leases_args", ("net", NET), ("mac", OSTRING), ("need_results", INT),
                ("flags", UINT)),
          _args("leases_ret", ("leases", array(LEASE, DHCP_LEASES_MAX)), ("ret", UINT)), style=L,
          method="network_get_dhcp_leases"),
    # events
    _proc(313, "CONNECT_NETWORK_EVENT_REGISTER_ANY",
          _args("event_register_args", ("event_id", INT), ("net", ONET)),
          _args("event_register_ret", ("callback_id", INT)), style=S),
    _proc(314, "CONNECT_NETWORK_EVENT_DEREGISTER_ANY",
          _args("event_deregister_args", ("callback_id", INT)), style=S),
    _proc(315, "NETWORK_EVENT_LIFECYCLE",
          _args("event_lifecycle_msg", ("callback_id", INT), ("net", NET), ("event", INT),
                ("detail", INT)), style=CallStyle.EVENT),
    # network ports
    _proc(404, "NETWORK_LIST_ALL_PORTS",
          _args("list_ports_args", ("network", NET), ("need_results", INT), ("flags", UINT)),
          _args("list_ports_ret", ("ports", array(PORT, NETWORK_PORT_LIST_MAX)), ("ret", UINT)),
          style=L, method="network_list_all_ports"),
    _proc(405, "NETWORK_PORT_LOOKUP_BY_UUID", _args("port_by_uuid_args", ("network", NET),
                                                    ("uuid", UUID)),
          _args("port_ret", ("port", PORT)), method="network_port_lookup_by_uuid"),
    _proc(406, "NETWORK_PORT_CREATE_XML",
          _args("port_create_args", ("network", NET), ("xml", NONNULL_STRING), ("flags", UINT)),
          _args("port_ret", ("port", PORT)), readonly=False, method="network_port_create_xml"),
    _proc(407, "NETWORK_PORT_GET_PARAMETERS",
          _args("port_get_params_args", ("port", PORT), ("nparams", INT), ("flags", UINT)),
          _args("port_get_params_ret", ("params", array(TYPED_PARAM, PORT_PARAMETERS_MAX)),
                ("nparams", INT)), style=CallStyle.GET_PARAMETERS,
          method="network_port_get_parameters"),
    _proc(408, "NETWORK_PORT_SET_PARAMETERS",
          _args("port_set_params_args", ("port", PORT),
                ("params", array(TYPED_PARAM, PORT_PARAMETERS_MAX)), ("flags", UINT)),
          readonly=False, method="network_port_set_parameters"),
    _proc(409, "NETWORK_PORT_GET_XML_DESC", _args("port_flags_args", ("port", PORT),
                                                  ("flags", UINT)),
          _args("xml_ret", ("xml", NONNULL_STRING)), method="network_port_get_xml_desc"),
    _proc(410, "NETWORK_PORT_DELETE", _args("port_flags_args", ("port", PORT), ("flags", UINT)),
          readonly=False, method="network_port_delete"),
)

BY_NUMBER: dict[int, Procedure] = {p.number: p for p in PROCEDURES}
BY_NAME: dict[str, Procedure] = {p.name: p for p in PROCEDURES}


class Proc:
    """Procedure numbers used by name in code."""

    CONNECT_OPEN = 1
    CONNECT_CLOSE = 2
    CONNECT_SUPPORTS_FEATURE = 60
    AUTH_LIST = 66
    CONNECT_GET_URI = 110
    CONNECT_IS_SECURE = 149
    CONNECT_GET_LIB_VERSION = 157
    NETWORK_UPDATE = 291
    CONNECT_NETWORK_EVENT_REGISTER_ANY = 313
    CONNECT_NETWORK_EVENT_DEREGISTER_ANY = 314
    NETWORK_EVENT_LIFECYCLE = 315
    CONNECT_REGISTER_CLOSE_CALLBACK = 360
    CONNECT_UNREGISTER_CLOSE_CALLBACK = 361
    CONNECT_EVENT_CONNECTION_CLOSED = 362
    CONNECT_SET_IDENTITY = 419


class Feature:
    """``virDrvFeature`` values asked over CONNECT_SUPPORTS_FEATURE."""

    FD_PASSING = 8
    TYPED_PARAM_STRING = 9
    PROGRAM_KEEPALIVE = 10
    REMOTE_EVENT_CALLBACK = 14
    REMOTE_CLOSE_CALLBACK = 15
    NETWORK_UPDATE_HAS_CORRECT_ORDER = 16


#: ``VIR_CONNECT_RO``, the open flag of a read-only connection
CONNECT_RO = 1


def _opens_readonly(args: tuple[Any, ...]) -> bool:
    _name, flags = args
    return bool(flags & CONNECT_RO)

#: The REMOTE program as a connection serves or calls it.
REMOTE = Program(
    number=PROGRAM,
    version=VERSION,
    procedures=BY_NUMBER,
    names=ALL_NAMES,
    open=Proc.CONNECT_OPEN,
    close=Proc.CONNECT_CLOSE,
    # the authentication calls (the SASL and polkit ones are answered "not
    # open"), and a close, which libvirtd answers before an open too
    pre_open=frozenset({Proc.AUTH_LIST, Proc.CONNECT_SUPPORTS_FEATURE, Proc.CONNECT_OPEN,
                        Proc.CONNECT_CLOSE, 67, 68, 69, 70}),
    opens_readonly=_opens_readonly,
    auth_list=Proc.AUTH_LIST,
    supports_feature=Proc.CONNECT_SUPPORTS_FEATURE,
    # what libvirtd 9.0 answers 1 to for network:///system and test:///default
    # (the QEMU driver asks 8 and 9): libvirtd itself supports passing
    # descriptors, both drivers typed-parameter strings
    features=frozenset({Feature.FD_PASSING, Feature.TYPED_PARAM_STRING,
                        Feature.REMOTE_EVENT_CALLBACK, Feature.REMOTE_CLOSE_CALLBACK,
                        Feature.NETWORK_UPDATE_HAS_CORRECT_ORDER}),
    keepalive_feature=Feature.PROGRAM_KEEPALIVE,
    api_name=public_api_name,
    api_error_domain=api_error_domain,
    not_open=not_open_error,
)
