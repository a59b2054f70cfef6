"""Small pure parts of the host backend: resolv.conf to a servers file,
nftables notification headers, link names asked of the kernel."""

from __future__ import annotations

import socket
import struct

from rpcnet.driver.host import nfevents, upstream
from rpcnet.driver.host.bridge import KernelLinkNames


def test_servers_file_keeps_the_nameservers_in_order() -> None:
    text = ("# generated\nsearch example.test\nnameserver 192.0.2.53\n"
            "options edns0\n nameserver   2001:db8::53 \nnameserver fe80::1%eth0\nnameserver\n")
    assert upstream.servers_file(text) == (
        "server=192.0.2.53\nserver=2001:db8::53\nserver=fe80::1%eth0\n")
    assert upstream.servers_file("") == ""


def _message(kind: int, family: int, payload: bytes = b"") -> bytes:
    body = bytes([family, 0, 0, 0]) + payload
    length = 16 + len(body)
    return struct.pack("=IHHII", length, kind, 0, 0, 0) + body + b"\0" * (-length % 4)


def test_nftables_notifications_give_their_families() -> None:
    newrule = nfevents.NFNL_SUBSYS_NFTABLES << 8 | 6
    data = (_message(newrule, socket.AF_INET, b"abc") + _message(newrule, 1)
            + _message(nfevents.NFNL_SUBSYS_NFTABLES << 8 | 15, 0))  # NEWGEN: unspecified
    assert nfevents.families(data) == {socket.AF_INET, 1, 0}
    assert nfevents.families(_message(1 << 8 | 0, socket.AF_INET6)) == set()  # conntrack
    assert nfevents.families(b"\x01\x00") == set()


def test_kernel_link_names_ask_the_kernel_through_a_union() -> None:
    used = {"virbr0"} | KernelLinkNames()
    assert isinstance(used, KernelLinkNames)
    assert "virbr0" in used and "lo" in used  # the loopback exists in every namespace
    assert "no-such-link0" not in used and "" not in used and 7 not in used
