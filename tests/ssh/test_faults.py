"""What goes wrong reaching a host over ssh, and what the client says: an
unknown host, a host key not known or changed, a refused key, no daemon on
the far side. virsh over the same URI is the reference; where virsh would
ask on the terminal (libssh and an unknown host key) rpcnet refuses."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.peers.sshhost import SshFleet, SshHost, ssh_uri

pytestmark = pytest.mark.host

TRANSPORTS = ["ssh", "libssh", "libssh2"]


@pytest.fixture(scope="module")
def hosts(ssh_tools: None) -> Iterator[SshFleet]:
    with SshFleet(2) as made:
        yield made


def both(fleet: SshFleet, target: str) -> tuple[tuple[int, str], tuple[int, str]]:
    """(virsh's, rpcnet's) exit status and stderr for `net-list` on ``target``."""
    theirs = fleet.client.virsh(target, "net-list")
    ours = fleet.client.rpcnet("-c", target, "net-list")
    return (theirs.returncode, theirs.stderr), (ours.returncode, ours.stderr)


def connects(fleet: SshFleet, target: str) -> bool:
    result = fleet.client.rpcnet("-c", target, "net-list", "--name")
    return (result.returncode, result.stdout) == (0, "default\n\n")


#: How a socket pair to a child that failed at once ends, as libvirt words it:
#: the child gone before our first call was written, after it (unread), or
#: before our first read. Which one is a race, for virsh as for rpcnet.
_ENDED = re.compile(r"error: (?:Cannot recv data|End of file while reading data|"
                    r"Cannot write data): (.*): (?:Connection reset by peer|"
                    r"Input/output error|Broken pipe)\n$", re.S)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_unknown_host_name(hosts: SshFleet, transport: str) -> None:
    theirs, ours = both(hosts, ssh_uri("nosuch", transport))
    if transport == "ssh":  # ssh gives up within a millisecond: compare what it said
        theirs = theirs[0], _ENDED.sub(r"\1", theirs[1])
        ours = ours[0], _ENDED.sub(r"\1", ours[1])
        assert ours[1].endswith("ssh: Could not resolve hostname nosuch: "
                                "Temporary failure in name resolution")
    assert ours == theirs
    assert ours[0] == 1 and "nosuch" in ours[1]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_refused_key(hosts: SshFleet, transport: str) -> None:
    host = hosts.hosts[1]
    host.authorize()  # no key at all
    try:
        theirs, ours = both(hosts, ssh_uri(host.name, transport))
    finally:
        host.authorize(hosts.client.public_key)
    assert ours == theirs
    expected = "Permission denied (publickey)" if transport == "ssh" else \
        "All provided authentication methods with credentials were rejected by the server"
    assert ours[0] == 1 and expected in ours[1]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_no_daemon_on_the_far_side(hosts: SshFleet, transport: str) -> None:
    host = hosts.hosts[1]
    host.stop_rpcnetd()
    try:
        theirs, ours = both(hosts, ssh_uri(host.name, transport))
    finally:
        host.start_rpcnetd()
    said = "virt-ssh-helper: cannot connect to '/var/run/libvirt/libvirt-sock': " \
           "Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory"
    if transport == "ssh":
        assert ours == theirs
    else:  # libvirt's libssh transports say "non-zero code: 1" (or -1, or "the cause is
        assert theirs[0] == 1  # unknown"); rpcnet says why
        assert ours[1] == ("error: failed to connect to the hypervisor\nerror: Remote command "
                           f"terminated with non-zero code: 1: {said}\n")
    assert ours[0] == 1 and said in ours[1]


def _forget(fleet: SshFleet, host: SshHost) -> None:
    """Both known_hosts files without ``host``."""
    for path in (fleet.client.known_hosts, fleet.client.config_dir / "known_hosts"):
        path.write_text("".join(f"{h.known_hosts_line()}\n" for h in fleet.hosts
                                if h is not host))


def test_a_host_key_not_known(hosts: SshFleet) -> None:
    host = hosts.hosts[0]
    _forget(hosts, host)
    libvirt_known = hosts.client.config_dir / "known_hosts"
    try:
        theirs, ours = both(hosts, ssh_uri(host.name, "ssh"))
        assert ours == theirs and "Host key verification failed." in ours[1]
        for transport in ("libssh", "libssh2"):
            _code, said = both(hosts, ssh_uri(host.name, transport))[1]
            assert f"SSH host key of '{host.name}:22' (" in said
            assert "is not in '/root/.config/libvirt/known_hosts'" in said
            assert host.name not in libvirt_known.read_text()
        assert connects(hosts, ssh_uri(host.name, "libssh", "known_hosts_verify=ignore"))
        assert host.name not in libvirt_known.read_text()
        assert connects(hosts, ssh_uri(host.name, "libssh", "known_hosts_verify=auto"))
        assert f"{host.name} {host.host_public_key.rsplit(' ', 1)[0]}\n" in \
            libvirt_known.read_text()
        assert connects(hosts, ssh_uri(host.name, "libssh"))  # now known
    finally:
        hosts.write_known_hosts()


def test_a_changed_host_key(hosts: SshFleet) -> None:
    host = hosts.hosts[0]
    host.new_host_key()
    try:
        for transport in TRANSPORTS:
            theirs, ours = both(hosts, ssh_uri(host.name, transport))
            if transport == "libssh2":  # libvirt's libssh2 code shows the stored key, as
                # "the new host key"; rpcnet shows the new one's hash, as its libssh code
                theirs = theirs[0], re.sub(r"new host key '[^']*'", "", theirs[1])
                ours = ours[0], re.sub(r"new host key '[^']*'", "", ours[1])
            assert ours == theirs
            assert ours[0] == 1
            assert ("REMOTE HOST IDENTIFICATION HAS CHANGED" if transport == "ssh" else
                    "!!! SSH HOST KEY VERIFICATION FAILED !!!") in ours[1]
        assert connects(hosts, ssh_uri(host.name, "ssh", "no_verify=1"))
        assert connects(hosts, ssh_uri(host.name, "libssh", "known_hosts_verify=ignore"))
        # auto adds unknown keys only: a changed one stays refused
        assert not connects(hosts, ssh_uri(host.name, "libssh", "known_hosts_verify=auto"))
    finally:
        hosts.write_known_hosts()
    assert connects(hosts, ssh_uri(host.name, "libssh"))
