"""dnsmasq's configuration for the same network XML, written by rpcnetd's host
backend and by a real libvirtd: the same options in the same order (file
paths and the deliberate differences in DELIBERATE aside), the same DHCP
hosts file and the same DNS hosts file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rpcnet.driver.host import dnsmasq_conf
from rpcnet.errors import VirError
from rpcnet.netxml import parse_network
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.virsh import virsh

_IP4 = "<ip address='10.72.0.1' prefix='24'>{dhcp}</ip>"
_RANGE4 = "<range start='10.72.0.10' end='10.72.0.19'/>"
_IP6 = "<ip family='ipv6' address='fd72::1' prefix='64'>{dhcp}</ip>"
_RANGE6 = "<range start='fd72::10' end='fd72::1f'/>"


def net(body: str, forward: str = "<forward mode='nat'/>") -> str:
    return f"<network><name>cmp</name>{forward}<bridge name='rpccmp'/>{body}</network>"


def dhcp(*items: str) -> str:
    return "<dhcp>" + "".join(items) + "</dhcp>"


CASES = {
    "nat-dhcp": net(_IP4.format(dhcp=dhcp(_RANGE4))),
    "nat-no-dhcp": net(_IP4.format(dhcp="")),
    "isolated": net(_IP4.format(dhcp=dhcp(_RANGE4)), forward=""),
    "route": net(_IP4.format(dhcp=dhcp(_RANGE4)), forward="<forward mode='route'/>"),
    "open": net(_IP4.format(dhcp=dhcp(_RANGE4)), forward="<forward mode='open'/>"),
    "static-hosts-only": net(_IP4.format(dhcp=dhcp(
        "<host mac='52:54:00:00:00:01' name='one' ip='10.72.0.5'/>",
        "<host mac='52:54:00:00:00:02' ip='10.72.0.6'/>"))),
    "hosts-and-range": net(_IP4.format(dhcp=dhcp(
        _RANGE4, "<host mac='52:54:00:00:00:01' name='one' ip='10.72.0.5'/>",
        "<host name='two' ip='10.72.0.7'/>"))),
    "leases": net(_IP4.format(dhcp=dhcp(
        "<range start='10.72.0.10' end='10.72.0.19'><lease expiry='2' unit='hours'/></range>",
        "<host mac='52:54:00:00:00:01' name='one' ip='10.72.0.5'><lease expiry='0'/></host>",
        "<host mac='52:54:00:00:00:02' ip='10.72.0.6'>"
        "<lease expiry='300' unit='seconds'/></host>",
        "<host mac='52:54:00:00:00:03' ip='10.72.0.8'><lease expiry='7'/></host>"))
        + _IP6.format(dhcp=dhcp(
            "<range start='fd72::10' end='fd72::1f'><lease expiry='0'/></range>",
            "<host id='0:4:7e:7d:f0:7d:a8:bc:c5:d2:13:32:11:ed:16:ea:84:63' ip='fd72::30'>"
            "<lease expiry='5'/></host>")),
        ),
    "tftp-bootp": net("<ip address='10.72.0.1' prefix='24'><tftp root='/tmp'/>"
                      + dhcp(_RANGE4, "<bootp file='pxelinux.0' server='10.72.0.3'/>")
                      + "</ip>"),
    "bootp-file-only": net(_IP4.format(dhcp=dhcp(_RANGE4, "<bootp file='pxe.0'/>"))),
    "dual-stack": net(_IP4.format(dhcp=dhcp(_RANGE4)) + _IP6.format(dhcp=dhcp(_RANGE6))),
    "ipv6-ra-only": net(_IP6.format(dhcp="")),
    "ipv6-ra-only-isolated": net(_IP6.format(dhcp=""), forward=""),
    "ipv6-hosts-only": net(_IP6.format(dhcp=dhcp(
        "<host id='0:4:7e:7d:f0:7d:a8:bc:c5:d2:13:32:11:ed:16:ea:84:63' name='six' "
        "ip='fd72::30'/>"))),
    "ipv6-two": net(_IP6.format(dhcp=dhcp(_RANGE6)) + "<ip family='ipv6' address='fd73::1' "
                    "prefix='64'/>"),
    "domain": net("<domain name='cmp.test' localOnly='yes'/>" + _IP4.format(dhcp="")),
    "domain-not-local": net("<domain name='cmp.test'/>" + _IP4.format(dhcp="")),
    "local-ptr": net("<ip address='10.72.0.1' prefix='24' localPtr='yes'/>"
                     "<ip family='ipv6' address='fd72::1' prefix='64' localPtr='yes'/>"),
    "local-ptr-odd-prefix": net("<ip address='10.72.0.1' prefix='20' localPtr='yes'/>"),
    "plain-names-no": net("<dns forwardPlainNames='no'/>" + _IP4.format(dhcp="")),
    "plain-names-yes": net("<dns forwardPlainNames='yes'/>" + _IP4.format(dhcp="")),
    "dns-off": net("<dns enable='no'/>" + _IP4.format(dhcp=dhcp(_RANGE4))),
    "dns-records": net(
        "<dns><txt name='info' value='hello world'/>"
        "<host ip='10.72.0.9'><hostname>nine</hostname><hostname>neun</hostname></host>"
        "<srv service='ldap' protocol='tcp' domain='cmp.test' target='nine' port='389' "
        "priority='1' weight='2'/><srv service='sip' protocol='udp'/></dns>"
        + _IP4.format(dhcp="")),
    "forwarders": net(
        "<dns><forwarder addr='10.72.0.250'/><forwarder domain='ex.test' addr='10.72.0.251'/>"
        "<forwarder domain='local.test'/></dns>" + _IP4.format(dhcp="")),
    "forwarder-domain-only": net(
        "<dns><forwarder domain='ex.test' addr='10.72.0.251'/></dns>" + _IP4.format(dhcp="")),
    "everything-isolated": net(
        "<domain name='cmp.test' localOnly='yes'/><dns forwardPlainNames='no'>"
        "<txt name='t' value='v'/></dns>"
        "<ip address='10.72.0.1' prefix='24' localPtr='yes'><tftp root='/tmp'/>"
        + dhcp(_RANGE4, "<bootp file='pxe.0'/>") + "</ip>"
        + _IP6.format(dhcp=dhcp(_RANGE6)), forward=""),
}
_PATH_OPTIONS = ("pid-file", "dhcp-hostsfile", "addn-hosts", "dhcp-leasefile", "log-facility")
#: where rpcnet's config differs from libvirt's on purpose (rpcnet/driver/host/dnsmasq_conf.py
#: and docs/architecture.md say why): rpcnet's option -> what libvirt writes instead
DELIBERATE = {
    # upstream servers from one file kept current by rpcnetd, re-read on
    # SIGHUP, instead of each dnsmasq watching resolv.conf: no inotify
    # instance per network (fs.inotify.max_user_instances)
    "servers-file": "",
    # networks without IPv6: no re-listing of every interface at every
    # address change anywhere (O(N^2) CPU at N networks); rpcnet's firewall
    # keeps DNS/TFTP queries from other interfaces out, as bind-dynamic does
    "bind-interfaces": "bind-dynamic",
}


def options(text: str) -> list[str]:
    """Config lines without comments and without the file-path options."""
    return [line for line in text.splitlines()
            if line and not line.startswith("#") and line.split("=")[0] not in _PATH_OPTIONS]


def as_libvirt_writes_it(ours: list[str]) -> list[str]:
    """``ours`` with the DELIBERATE differences undone: the servers file goes
    with the ``no-resolv`` that comes just before it."""
    undone: list[str] = []
    for option in ours:
        key = option.split("=")[0]
        if key == "servers-file":
            assert undone.pop() == "no-resolv"
        elif key in DELIBERATE:
            undone.append(DELIBERATE[key])
        else:
            undone.append(option)
    return undone


def libvirt_files(libvirtd: LibvirtdPeer, name: str) -> dict[str, str]:
    script = (f"cd /var/lib/libvirt/dnsmasq && for f in {name}.conf {name}.hostsfile "
              f"{name}.addnhosts; do echo \"== $f\"; cat $f 2>/dev/null; done")
    out = subprocess.run(["nsenter", "-t", str(libvirtd.pid), "-m", "sh", "-c", script],
                         capture_output=True, text=True, check=True, timeout=10).stdout
    files = {}
    for chunk in out.split("== ")[1:]:
        head, _, body = chunk.partition("\n")
        files[head.rsplit(".", 1)[1]] = body
    return files


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_dnsmasq_config_as_libvirtd(libvirtd: LibvirtdPeer, tmp_path: Path,
                                         case: str) -> None:
    xml = CASES[case]
    path = tmp_path / "cmp.xml"
    path.write_text(xml)
    uri = libvirtd.uri("network")
    netdef = parse_network(xml)
    paths = dnsmasq_conf.Paths.under(tmp_path, tmp_path / "servers")
    res = virsh(uri, "net-create", str(path))
    if res.returncode != 0:  # libvirt refuses to start it: so does rpcnetd, alike
        with pytest.raises(VirError) as err:
            dnsmasq_conf.conf(netdef, paths)
        assert f"error: {err.value.message}" in res.stderr
        return
    try:
        theirs = libvirt_files(libvirtd, "cmp")
    finally:
        virsh(uri, "net-destroy", "cmp")
    ours = options(dnsmasq_conf.conf(netdef, paths))
    assert as_libvirt_writes_it(ours) == options(theirs["conf"])
    # each difference where it is meant to be, and nowhere else
    reads_resolv_conf = "no-resolv" not in theirs["conf"] and "port=0" not in theirs["conf"]
    assert (f"servers-file={tmp_path / 'servers'}" in ours) == reads_resolv_conf
    assert ("bind-interfaces" in ours) == ("ipv6" not in xml)
    assert dnsmasq_conf.hostsfile(netdef) == theirs["hostsfile"]
    assert dnsmasq_conf.addnhosts(netdef) == theirs["addnhosts"]
