"""Host backend text rendering: nftables rules, dnsmasq config, lease file."""

from __future__ import annotations

from pathlib import Path

from rpcnet.driver.host import dnsmasq_conf, firewall, leases
from rpcnet.netxml import parse_network


def net(body: str, forward: str = "") -> str:
    return (f"<network><name>t</name>{forward}<bridge name='virbr9'/>{body}</network>")


IPV4 = ("<ip address='10.1.0.1' prefix='24'><dhcp><range start='10.1.0.2' end='10.1.0.9'/>"
        "</dhcp></ip>")


def rules(xml: str) -> dict[str, list[str]]:
    return firewall.rules_for(parse_network(xml)).rules


def test_nat_masquerades_subnet_but_not_multicast_or_broadcast() -> None:
    got = rules(net(IPV4, "<forward mode='nat'/>"))
    assert got["nat"] == [
        "ip saddr 10.1.0.0/24 ip daddr 224.0.0.0/24 return",
        "ip saddr 10.1.0.0/24 ip daddr 255.255.255.255 return",
        "meta l4proto { tcp, udp } ip saddr 10.1.0.0/24 ip daddr != 10.1.0.0/24 "
        "masquerade to :1024-65535",
        "ip saddr 10.1.0.0/24 ip daddr != 10.1.0.0/24 masquerade",
    ]
    assert got["fwd"][1] == ('oifname "virbr9" ip daddr 10.1.0.0/24 '
                             "ct state related,established accept")
    assert got["in"][0] == 'iifname "virbr9" udp dport { 53, 67 } accept'


def test_nat_dev_address_and_port_range() -> None:
    forward = ("<forward mode='nat' dev='eth1'><nat><address start='192.0.2.5' end='192.0.2.6'/>"
               "<port start='2000' end='3000'/></nat></forward>")
    got = rules(net(IPV4, forward))
    assert got["nat"][2].endswith('ip daddr != 10.1.0.0/24 oifname "eth1" '
                                  "snat ip to 192.0.2.5-192.0.2.6:2000-3000")
    assert 'iifname "virbr9" oifname "eth1" ip saddr 10.1.0.0/24 accept' in got["fwd"]
    assert ('oifname "virbr9" iifname "eth1" ip daddr 10.1.0.0/24 '
            "ct state related,established accept") in got["fwd"]


def test_route_open_isolated() -> None:
    routed = rules(net(IPV4, "<forward mode='route'/>"))
    assert not routed["nat"]
    assert 'oifname "virbr9" ip daddr 10.1.0.0/24 accept' in routed["fwd"]
    assert firewall.rules_for(parse_network(net(IPV4, "<forward mode='open'/>"))).empty
    isolated = rules(net(IPV4))
    assert isolated["fwd"] == ['iifname "virbr9" oifname "virbr9" accept',
                               'oifname "virbr9" reject', 'iifname "virbr9" reject']


def test_ipv6_in_nat_mode_is_routed_and_chains_are_per_bridge() -> None:
    v6 = "<ip family='ipv6' address='fd00::1' prefix='64'/>"
    got = rules(net(v6, "<forward mode='nat'/>"))
    assert not got["nat"] and 'oifname "virbr9" ip6 daddr fd00::/64 accept' in got["fwd"]
    assert got["in"][0] == 'iifname "virbr9" udp dport { 53, 547 } accept'
    assert firewall.chain_names("virbr9") == ("in_virbr9", "out_virbr9", "fwd_virbr9",
                                              "nat_virbr9")
    assert firewall.chain_suffix("br-x.1").startswith("br_x_1_")


def test_render_apply_recreates_atomically_and_remove_drops_table() -> None:
    ruleset = firewall.rules_for(parse_network(net(IPV4)))
    text = firewall.render_apply(ruleset)
    assert text.startswith("add table inet rpcnet\n")
    assert "flush chain inet rpcnet fwd_virbr9\n" in text
    assert "delete chain inet rpcnet nat_virbr9\n" in text  # an isolated network has no NAT
    assert firewall.render_remove(["in_virbr9"], drop_table=True).endswith(
        "delete table inet rpcnet\n")


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
    paths = dnsmasq_conf.Paths.under(Path("/run/x"))
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
