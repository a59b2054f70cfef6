"""The net-* commands, message for message as virsh 9.0 prints them.

Each handler returns virsh's verdict (True: exit 0). virsh's own quirks are
kept on purpose — for example ``net-port-dumpxml``/``net-port-delete`` exit
0 when the network or port is missing — since scripts written for virsh
rely on them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rpcnet.cli.console.context import Context, Failed
from rpcnet.cli.console.grammar import (
    CommandDef,
    Handler,
    HostCommand,
    Kind,
    Opt,
    Options,
    Source,
    TogetherHandler,
)
from rpcnet.driver.base import ListFlags, UpdateFlags, XmlFlags
from rpcnet.errors import ErrorCode, general_error
from rpcnet.protocol.values import DhcpLease, NetworkRef
from rpcnet.vocabulary import UpdateCommand, UpdateSection

COMMANDS: dict[str, CommandDef] = {}
NAME_OR_UUID = "network name or uuid"


def network_opt(values: Source, help: str = NAME_OR_UUID) -> Opt:
    """The required ``network`` option, completed from ``values``."""
    return Opt("network", Kind.DATA, help, required=True, values=values)


NETWORK = network_opt(Source.NETWORK)
ACTIVE_NETWORK = network_opt(Source.ACTIVE_NETWORK)
FILE = Opt("file", Kind.DATA, "file containing an XML network description", required=True,
           values=Source.PATH)
VALIDATE = Opt("validate", Kind.BOOL, "validate the XML against the schema")


def command(name: str, *opts: Opt, help: str, desc: str = "", group: str = "network",
            together: TogetherHandler | None = None) -> Callable[[Handler], Handler]:
    """Register a command that runs on each host; ``help``/``desc`` are what
    ``help NAME`` prints (virsh's text for virsh's commands), ``group`` the
    help keyword of its group (virsh's ``network``, or ``rpcnet`` for
    rpcnet's own), ``together`` how it runs on several hosts as one (see
    :class:`HostCommand`)."""
    def register(handler: Handler) -> Handler:
        COMMANDS[name] = HostCommand(name=name, opts=opts, help=help, desc=desc, group=group,
                                     handler=handler, together=together)
        return handler
    return register


def _yes(value: object) -> str:
    return "yes" if value else "no"


# -- listing and inspection ---------------------------------------------------


@command("net-list", Opt("inactive", Kind.BOOL, "list inactive networks"),
         Opt("all", Kind.BOOL, "list inactive & active networks"),
         Opt("persistent", Kind.BOOL, "list persistent networks"),
         Opt("transient", Kind.BOOL, "list transient networks"),
         Opt("autostart", Kind.BOOL, "list networks with autostart enabled"),
         Opt("no-autostart", Kind.BOOL, "list networks with autostart disabled"),
         Opt("uuid", Kind.BOOL, "list uuid's only"),
         Opt("name", Kind.BOOL, "list network names only"),
         Opt("table", Kind.BOOL, "list table (default)"),
         help="list networks", desc="Returns list of networks.")
async def net_list(ctx: Context, o: Options) -> bool:
    if o.flag("table") + o.flag("name") + o.flag("uuid") > 1:
        ctx.out.error("Only one argument from --table, --name and --uuid may be specified.")
        return False
    flags = ListFlags.ACTIVE
    if o.flag("inactive"):
        flags = ListFlags.INACTIVE
    if o.flag("all"):
        flags = ListFlags.ACTIVE | ListFlags.INACTIVE
    for opt, bit in (("persistent", ListFlags.PERSISTENT), ("transient", ListFlags.TRANSIENT),
                     ("autostart", ListFlags.AUTOSTART),
                     ("no-autostart", ListFlags.NO_AUTOSTART)):
        if o.flag(opt):
            flags |= bit
    nets = await ctx.try_call(ctx.driver.connect_list_all_networks(int(flags)))
    if nets is None:
        ctx.out.error("Failed to list networks")
        return False
    nets.sort(key=lambda n: n.name.lower())
    if o.flag("uuid"):
        ctx.out.text("".join(f"{n.uuid_str}\n" for n in nets))
    elif o.flag("name"):
        ctx.out.text("".join(f"{n.name}\n" for n in nets))
    else:
        rows = await asyncio.gather(*(_list_row(ctx, n) for n in nets))
        ctx.out.table(["Name", "State", "Autostart", "Persistent"], list(rows))
    return True


async def _list_row(ctx: Context, net: NetworkRef) -> list[str]:
    drv = ctx.driver
    results = await asyncio.gather(drv.network_get_autostart(net), drv.network_is_active(net),
                                   drv.network_is_persistent(net), return_exceptions=True)
    autostart, active, persistent = results
    autostart_str = "no autostart" if isinstance(autostart, Exception) else _yes(autostart)
    # virsh tests the C result for truth, so a failed call (-1) counts as yes
    return [net.name, "active" if active else "inactive", autostart_str, _yes(persistent)]


@command("net-info", NETWORK, help="network information",
         desc="Returns basic information about the network")
async def net_info(ctx: Context, o: Options) -> bool:
    net = await ctx.network(o.require("network"))
    if net is None:
        return False
    drv = ctx.driver
    active, persistent, autostart, bridge = await asyncio.gather(
        drv.network_is_active(net), drv.network_is_persistent(net),
        drv.network_get_autostart(net), drv.network_get_bridge_name(net),
        return_exceptions=True)
    pairs = [("Name", net.name), ("UUID", net.uuid_str)]
    if not isinstance(active, Exception):
        pairs.append(("Active", _yes(active)))
    pairs.append(("Persistent", "unknown" if isinstance(persistent, Exception)
                  else _yes(persistent)))
    pairs.append(("Autostart", "no autostart" if isinstance(autostart, Exception)
                  else _yes(autostart)))
    if not isinstance(bridge, BaseException):
        pairs.append(("Bridge", str(bridge)))
    ctx.out.record(pairs)
    return True


def _convert(name: str, network: Opt, *, from_uuid: bool, help: str) -> None:
    async def handler(ctx: Context, o: Options) -> bool:
        net = await ctx.network(o.require("network"), by_uuid=from_uuid, by_name=not from_uuid)
        if net is None:
            return False
        ctx.out.text(f"{net.name if from_uuid else net.uuid_str}\n")
        return True

    command(name, network, help=help)(handler)


_convert("net-uuid", network_opt(Source.NETWORK, "network name"),
         from_uuid=False, help="convert a network name to network UUID")
_convert("net-name", network_opt(Source.NETWORK_UUID, "network uuid"),
         from_uuid=True, help="convert a network UUID to network name")


XPATH = (Opt("xpath", Kind.STRING, "xpath expression to filter the XML document",
             positional=False),
         Opt("wrap", Kind.BOOL, "wrap xpath results in an common root element"))


@command("net-dumpxml", NETWORK, Opt("inactive", Kind.BOOL, "show inactive defined XML"), *XPATH,
         help="network information in XML",
         desc="Output the network information as an XML dump to stdout.")
async def net_dumpxml(ctx: Context, o: Options) -> bool:
    net = await ctx.network(o.require("network"))
    if net is None:
        return False
    flags = XmlFlags.INACTIVE if o.flag("inactive") else 0
    xml = await ctx.try_call(ctx.driver.network_get_xml_desc(net, int(flags)))
    if xml is None:
        return False
    return dump_xml(ctx, xml, o)


def dump_xml(ctx: Context, xml: str, o: Options) -> bool:
    """virshDumpXML: the document, or the nodes an ``--xpath`` selects."""
    xpath = o.string("xpath")
    if xpath is None:
        ctx.out.text(xml)
        return True
    from rpcnet.cli.console.xpath import select

    text = select(xml, xpath, wrap=o.flag("wrap"))
    if text is None:
        ctx.last_error = general_error(ErrorCode.INTERNAL_ERROR, f"Incorrect xpath '{xpath}'")
        return False
    ctx.out.text(text)
    return True


def _lease_row(lease: DhcpLease) -> list[str]:
    expiry = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(lease.expirytime))
    proto = {0: "ipv4", 1: "ipv6"}.get(lease.type, "")
    return [expiry, lease.mac or "-", proto or "-", f"{lease.ipaddr}/{lease.prefix}",
            lease.hostname or "-", lease.clientid or "-"]


@command("net-dhcp-leases", ACTIVE_NETWORK, Opt("mac", Kind.STRING, "MAC address"),
         help="print lease info for a given network",
         desc="Print lease info for a given network")
async def net_dhcp_leases(ctx: Context, o: Options) -> bool:
    name = o.require("network")
    net = await ctx.network(name)
    if net is None:
        return False
    leases = await ctx.try_call(ctx.driver.network_get_dhcp_leases(net, o.string("mac"), 0))
    if leases is None:
        ctx.out.error(f"Failed to get leases info for {name}")
        return False
    leases.sort(key=lambda lease: (lease.mac or "").lower())
    ctx.out.table(["Expiry Time", "MAC address", "Protocol", "IP address", "Hostname",
                   "Client ID or DUID"], [_lease_row(lease) for lease in leases])
    return True


# -- lifecycle ------------------------------------------------------------------


@command("net-define", FILE, VALIDATE,
         help="define an inactive persistent virtual network or modify an existing persistent "
              "one from an XML file",
         desc="Define or modify a persistent virtual network.")
async def net_define(ctx: Context, o: Options) -> bool:
    return await _from_file(ctx, o, define=True)


@command("net-create", FILE, VALIDATE, help="create a network from an XML file",
         desc="Create a network.")
async def net_create(ctx: Context, o: Options) -> bool:
    return await _from_file(ctx, o, define=False)


async def _from_file(ctx: Context, o: Options, *, define: bool) -> bool:
    path = o.require("file")
    xml = ctx.read_file(path)
    if xml is None:
        return False
    drv, validate = ctx.driver, int(o.flag("validate"))
    if define:
        call = drv.network_define_xml_flags(xml, validate) if validate \
            else drv.network_define_xml(xml)
    else:
        call = drv.network_create_xml_flags(xml, validate) if validate \
            else drv.network_create_xml(xml)
    net = await ctx.try_call(call)
    verb = "defined" if define else "created"
    if net is None:
        ctx.out.error(f"Failed to {'define' if define else 'create'} network from {path}")
        return False
    ctx.out.extra(f"Network {net.name} {verb} from {path}\n")
    return True


def _simple(verb: str, done: str, method: str, network: Source, help: str, desc: str) -> None:
    async def handler(ctx: Context, o: Options) -> bool:
        name = o.require("network")
        net = await ctx.network(name)
        if net is None:
            return False
        try:
            await ctx.call(getattr(ctx.driver, method)(net))
        except Failed:
            ctx.out.error(f"Failed to {verb} network {name}")
            return False
        ctx.out.extra(f"Network {name} {done}\n")
        return True

    command(f"net-{verb}", network_opt(network), help=help, desc=desc)(handler)


_simple("start", "started", "network_create", Source.INACTIVE_NETWORK,
        "start a (previously defined) inactive network", "Start a network.")
_simple("destroy", "destroyed", "network_destroy", Source.ACTIVE_NETWORK,
        "destroy (stop) a network", "Forcefully stop a given network.")
_simple("undefine", "has been undefined", "network_undefine", Source.PERSISTENT_NETWORK,
        "undefine a persistent network", "Undefine the configuration for a persistent network.")


@command("net-autostart",
         network_opt(Source.PERSISTENT_NETWORK),
         Opt("disable", Kind.BOOL, "disable autostarting"), help="autostart a network",
         desc="Configure a network to be automatically started at boot.")
async def net_autostart(ctx: Context, o: Options) -> bool:
    name = o.require("network")
    net = await ctx.network(name)
    if net is None:
        return False
    enable = not o.flag("disable")
    prefix = "" if enable else "un"
    try:
        await ctx.call(ctx.driver.network_set_autostart(net, enable))
    except Failed:
        ctx.out.error(f"failed to {prefix}mark network {name} as autostarted")
        return False
    ctx.out.extra(f"Network {name} {prefix}marked as autostarted\n")
    return True


@command("net-update", NETWORK,
         Opt("command", Kind.DATA, "type of update (add-first, add-last (add), delete, or modify)",
             required=True, values=("add", *(c.cli_name for c in UpdateCommand if c))),
         Opt("section", Kind.DATA, "which section of network configuration to update",
             required=True, values=tuple(s.cli_name for s in UpdateSection if s)),
         Opt("xml", Kind.DATA, "name of file containing xml (or, if it starts with '<', the "
             "complete xml element itself) to add/modify, or to be matched for search",
             required=True, values=Source.PATH),
         Opt("parent-index", Kind.INT, "which parent object to search through"),
         Opt("config", Kind.BOOL, "affect next network startup"),
         Opt("live", Kind.BOOL, "affect running network"),
         Opt("current", Kind.BOOL, "affect current state of network"),
         help="update parts of an existing network's configuration")
async def net_update(ctx: Context, o: Options) -> bool:
    for other in ("live", "config"):
        if o.flag("current") and o.flag(other):
            ctx.out.error(f"Options --current and --{other} are mutually exclusive")
            return False
    net = await ctx.network(o.require("network"))
    if net is None:
        return False
    ok = await _update(ctx, o, net)
    ctx.report()
    return ok


async def _update(ctx: Context, o: Options, net: NetworkRef) -> bool:
    command_name = o.require("command")
    if command_name == "add":
        command_name = "add-last"
    command = UpdateCommand.from_cli_name(command_name)
    if command is None:
        ctx.out.error(f"unrecognized command name '{command_name}'")
        return False
    section_name = o.require("section")
    section = UpdateSection.from_cli_name(section_name)
    if section is None:
        ctx.out.error(f"unrecognized section name '{section_name}'")
        return False
    parent_index = parse_int(ctx, o, "parent-index", -1, minimum=None)
    if parent_index is None:
        return False
    xml: str | None = o.require("xml")
    if xml is not None and not xml.startswith("<"):
        xml = ctx.read_file(xml)
    if xml is None:
        return False
    config, live = o.flag("config"), o.flag("live")
    flags = (UpdateFlags.AFFECT_CONFIG if config else 0) | (UpdateFlags.AFFECT_LIVE if live else 0)
    try:
        await ctx.call(ctx.driver.network_update(
            net, command, section, parent_index, xml, int(flags)))
    except Failed:
        ctx.out.error(f"Failed to update network {net.name}")
        return False
    if config:
        affected = "persistent config and live state" if live else "persistent config"
    elif live or await ctx.driver.network_is_active(net):
        affected = "live state"
    else:
        affected = "persistent config"
    ctx.out.extra(f"Updated network {net.name} {affected}")
    return True


def parse_int(ctx: Context, o: Options, name: str, default: int, *,
              minimum: int | None) -> int | None:
    """vshCommandOptInt: the value, ``default`` if absent, None after an error."""
    raw = o.string(name)
    if raw is None:
        return default
    try:
        value = int(raw, 0) if raw.strip() == raw else None
    except ValueError:
        value = None
    if value is None or not -2**31 <= value < 2**31 or (minimum is not None and value < minimum):
        ctx.out.error(f"Numeric value '{raw}' for <{name}> option is malformed or out of range")
        return None
    return value


# -- ports ----------------------------------------------------------------------


@command("net-port-list", ACTIVE_NETWORK, Opt("uuid", Kind.BOOL, "list uuid's only"),
         Opt("table", Kind.BOOL, "list table (default)"), help="list network ports",
         desc="Returns list of network ports.")
async def net_port_list(ctx: Context, o: Options) -> bool:
    if o.flag("table") and o.flag("uuid"):
        ctx.out.error("Only one argument from --table and --uuid may be specified.")
        return False
    net = await ctx.network(o.require("network"))
    if net is None:
        return False
    ports = await ctx.try_call(ctx.driver.network_list_all_ports(net, 0))
    if ports is None:
        return False
    ports.sort(key=lambda p: p.uuid)
    if o.flag("uuid"):
        ctx.out.text("".join(f"{p.uuid_str}\n" for p in ports))
    else:
        ctx.out.table(["UUID"], [[p.uuid_str] for p in ports])
    return True


@command("net-port-create", ACTIVE_NETWORK,
         Opt("file", Kind.DATA, "file containing an XML network port description", required=True,
             values=Source.PATH),
         VALIDATE, help="create a network port from an XML file", desc="Create a network port.")
async def net_port_create(ctx: Context, o: Options) -> bool:
    net = await ctx.network(o.require("network"))
    if net is None:
        return False
    path = o.require("file")
    xml = ctx.read_file(path)
    if xml is None:
        return False
    port = await ctx.try_call(ctx.driver.network_port_create_xml(net, xml,
                                                                 2 if o.flag("validate") else 0))
    if port is None:
        ctx.out.error(f"Failed to create network from {path}")
        return False
    ctx.out.extra(f"Network port {port.uuid_str} created from {path}\n")
    return True


PORT = Opt("port", Kind.DATA, "port UUID", required=True, values=Source.PORT)


@command("net-port-dumpxml", ACTIVE_NETWORK, PORT, *XPATH, help="network port information in XML",
         desc="Output the network port information as an XML dump to stdout.")
async def net_port_dumpxml(ctx: Context, o: Options) -> bool:
    port = await ctx.port(o.require("network"), o.require("port"))
    if port is None:
        return True
    xml = await ctx.try_call(ctx.driver.network_port_get_xml_desc(port, 0))
    if xml is None:
        return False
    return dump_xml(ctx, xml, o)


@command("net-port-delete", ACTIVE_NETWORK, PORT, help="delete the specified network port",
         desc="Delete the specified network port.")
async def net_port_delete(ctx: Context, o: Options) -> bool:
    port = await ctx.port(o.require("network"), o.require("port"))
    if port is None:
        return True
    try:
        await ctx.call(ctx.driver.network_port_delete(port, 0))
    except Failed:
        ctx.out.error(f"Failed to delete network port {port.uuid_str}")
        return False
    ctx.out.extra(f"Network port {port.uuid_str} deleted\n")
    return True

