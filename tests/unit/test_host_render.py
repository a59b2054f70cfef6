"""Host backend text rendering: nftables rules, dnsmasq config, lease file."""

from __future__ import annotations

from pathlib import Path

from rpcnet.driver.host import dnsmasq_conf, firewall, leases, nft_script
from rpcnet.netxml import parse_network


def net(body: str, forward: str = "") -> str:
    return (f"<network><name>t</name>{forward}<bridge name='virbr9'/>{body}</network>")


IPV4 = ("<ip address='10.1.0.1' prefix='24'><dhcp><range start='10.1.0.2' end='10.1.0.9'/>"
        "</dhcp></ip>")


def rules(xml: str, dns_guard: bool = False) -> dict[str, set[str]]:
    """Set name -> elements of the network."""
    found: dict[str, set[str]] = {}
    for kind, element in firewall.rules_for(parse_network(xml), dns_guard=dns_guard).elements:
        found.setdefault(kind.name, set()).add(element)
    return found


def kind_rules(xml: str) -> dict[str, tuple[str, ...]]:
    return {kind.name: kind.rules for kind in firewall.rules_for(parse_network(xml)).kinds}


def test_nat_masquerades_subnet_but_not_multicast_or_broadcast() -> None:
    xml = net(IPV4, "<forward mode='nat'/>")
    got = rules(xml)
    assert got["nat_src4_24"] == {"10.1.0.0"} and got["nat_same4_24"] == {"10.1.0.0 . 10.1.0.0"}
    assert got["masq4_24_1024_65535"] == {"10.1.0.0"}
    assert got["to_ct4_24"] == got["from4_24"] == {'"virbr9" . 10.1.0.0'}
    assert got["intra"] == {'"virbr9" . "virbr9"'} and got["guarded"] == {'"virbr9"'}
    assert '"virbr9" . udp . 67' in got["svc_in"] and '"virbr9" . udp . 68' in got["svc_out"]
    text = kind_rules(xml)
    assert text["nat_src4_24"] == (
        "ip saddr & 255.255.255.0 @@ ip daddr { 224.0.0.0/24, 255.255.255.255 } return",)
    assert text["masq4_24_1024_65535"] == (
        "meta l4proto { tcp, udp } ip saddr & 255.255.255.0 @@ masquerade to :1024-65535",
        "ip saddr & 255.255.255.0 @@ masquerade")
    assert text["to_ct4_24"] == (
        "ct state related,established oifname . ip daddr & 255.255.255.0 @@ return",)


def test_nat_dev_address_and_port_range() -> None:
    forward = ("<forward mode='nat' dev='eth1'><nat><address start='192.0.2.5' end='192.0.2.6'/>"
               "<port start='2000' end='3000'/></nat></forward>")
    got = rules(net(IPV4, forward))
    name = "snat4_24_192_0_2_5_192_0_2_6_2000_3000_dev"
    assert got[name] == {'10.1.0.0 . "eth1"'}
    assert kind_rules(net(IPV4, forward))[name][0].endswith(
        "ip saddr & 255.255.255.0 . oifname @@ snat ip to 192.0.2.5-192.0.2.6:2000-3000")
    assert got["to_ct4d_24"] == got["from4d_24"] == {'"virbr9" . "eth1" . 10.1.0.0'}


def test_route_open_isolated() -> None:
    routed = rules(net(IPV4, "<forward mode='route'/>"))
    assert not any(name.startswith(("nat", "masq")) for name in routed)
    assert routed["to_any4_24"] == {'"virbr9" . 10.1.0.0'}
    assert firewall.rules_for(parse_network(net(IPV4, "<forward mode='open'/>"))).empty
    isolated = rules(net(IPV4))
    assert set(isolated) == {"intra", "guarded", "svc_in", "svc_out"}


def test_ipv6_in_nat_mode_is_routed_and_the_dns_guard() -> None:
    v6 = "<ip family='ipv6' address='fd00::1' prefix='64'/>"
    got = rules(net(v6, "<forward mode='nat'/>"))
    assert got["to_any6_64"] == {'"virbr9" . fd00::'} and "nat_src6_64" not in got
    assert '"virbr9" . udp . 547' in got["svc_in"] and '"virbr9" . udp . 67' not in got["svc_in"]
    nat6 = rules(net(v6, "<forward mode='nat'><nat ipv6='yes'/></forward>"))
    assert nat6["masq6_64_1024_65535"] == {"fd00::"} and "to_ct6_64" in nat6
    guarded = rules(net(IPV4), dns_guard=True)
    assert guarded["dns_addr4"] == {"10.1.0.1"}
    assert guarded["dns_listen4"] == {'10.1.0.1 . "virbr9"'}


def test_scripts_are_one_size_whatever_runs() -> None:
    nets = [firewall.rules_for(parse_network(
        f"<network><name>n{i}</name><forward mode='nat'/><bridge name='br{i}'/>"
        f"<ip address='10.{i}.0.1' prefix='24'/></network>")) for i in range(1, 60)]
    one = nft_script.change(firewall.kinds_in_use(nets[:1]), add=nets[0].elements)
    many = nft_script.change(firewall.kinds_in_use(nets), add=nets[-1].elements)
    assert len(one.splitlines()) == len(many.splitlines())  # the same sets and rules
    assert "br1" not in many  # nothing of the other networks
    removal = nft_script.change(firewall.kinds_in_use(nets[1:]), remove=nets[0].elements)
    assert "delete element inet rpcnet guarded { \"br1\" }" in removal
    assert "add element inet rpcnet guarded { \"br1\" }" in removal  # so it works if gone
    assert nft_script.change(set(), remove=nets[0].elements).endswith(
        "delete table inet rpcnet\n")
    full = nft_script.replace_table(nets)
    assert full.startswith("add table inet rpcnet\ndelete table inet rpcnet\n")


def test_dnsmasq_conf_like_libvirt() -> None:
    xml = net(
        "<domain name='ex.test' localOnly='yes'/>"
        "<dns><forwarder addr='192.0.2.53'/><forwarder domain='corp' addr='192.0.2.54'/>"
        "<txt name='t' value='v'/><srv service='ldap' protocol='tcp' domain='ex.test' "
        "target='h.ex.test' port='389' priority='1' weight='2'/>"
        "<host ip='10.1.0.7'><hostname>a</hostname><hostname>b</hostname></host></dns>"
        + IPV4.replace("</dhcp>", "<host mac='52:54:00:00:00:01' name='h' ip='10.1.0.5'/></dhcp>")
        + "<ip family='ipv6' address='fd00::1' prefix='64'><dhcp>"
        "<range start='fd00::10' end='fd00::20'/></dhcp></ip>")
    netdef = parse_network(xml)
    paths = dnsmasq_conf.Paths.under(Path("/run/x"), Path("/run/servers"))
    text = dnsmasq_conf.conf(netdef, paths)
    for line in ("no-resolv", "server=192.0.2.53", "server=/corp/192.0.2.54",
                 "local=/ex.test/", "domain=ex.test", "expand-hosts", "interface=virbr9",
                 "bind-dynamic", "except-interface=lo", "txt-record=t,v",
                 "srv-host=_ldap._tcp.ex.test,h.ex.test,389,1,2",
                 "dhcp-range=10.1.0.2,10.1.0.9,255.255.255.0", "dhcp-range=fd00::10,fd00::20,64",
                 "enable-ra", "dhcp-lease-max=25", "dhcp-hostsfile=/run/x/dhcp.hostsfile"):
        assert line in text.splitlines(), line
    assert dnsmasq_conf.hostsfile(netdef) == "52:54:00:00:00:01,10.1.0.5,h\n"
    assert dnsmasq_conf.addnhosts(netdef) == "10.1.0.7\ta\tb\t\n"
    assert "port=0" in dnsmasq_conf.conf(
        parse_network(net("<dns enable='no'/>" + IPV4)), paths).splitlines()
    assert not dnsmasq_conf.needed(parse_network(net("<dns enable='no'/><ip address='10.1.0.1' "
                                                     "prefix='24'/>")))


def test_leases_file_to_libvirt_records() -> None:
    netdef = parse_network(net(IPV4 + "<ip family='ipv6' address='fd00::1' prefix='64'/>"))
    text = ("1700000000 52:54:00:AA:BB:CC 10.1.0.5 guest 01:52:54:00:aa:bb:cc\n"
            "1700000001 52:54:00:aa:bb:dd 10.1.0.6 * *\n"
            "duid 00:01:00:01:aa\n"
            "1700000002 12345 fd00::15 g6 00:04:ab\n"
            "1700000003 7 fd00::16 * 00:01:00:01:32:9c:95:7a:52:54:00:00:43:01\n"
            "1700000004 8 fd00::17 * 00:03:00:01:52:54:00:00:43:02\n")
    got = leases.parse(text, netdef)
    assert [(x.ipaddr, x.prefix, x.mac, x.hostname, x.clientid, x.type) for x in got] == [
        ("10.1.0.5", 24, "52:54:00:aa:bb:cc", "guest", "01:52:54:00:aa:bb:cc", 0),
        ("10.1.0.6", 24, "52:54:00:aa:bb:dd", None, None, 0),
        ("fd00::15", 64, None, "g6", "00:04:ab", 1),
        # the MAC inside a DUID-LLT and a DUID-LL, as libvirt shows it
        ("fd00::16", 64, "52:54:00:00:43:01", None, "00:01:00:01:32:9c:95:7a:52:54:00:00:43:01", 1),
        ("fd00::17", 64, "52:54:00:00:43:02", None, "00:03:00:01:52:54:00:00:43:02", 1),
    ]
    assert got[2].iaid == "12345" and got[0].iface == "virbr9" and got[0].expirytime == 1700000000
    assert [x.ipaddr for x in leases.parse(text, netdef, "52:54:00:aa:bb:dd")] == ["10.1.0.6"]
    assert [x.ipaddr for x in leases.parse(text, netdef, "52:54:00:00:43:02")] == ["fd00::17"]
