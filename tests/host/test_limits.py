"""The limits a host hits with many networks: inotify instances, open files.

A user namespace has its own inotify limit (/proc/sys/user/
max_inotify_instances), so a test can set it to 0 for the programs it runs
there and meet the real kernel refusal without touching host-wide settings.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rpcnet.driver.host.dnsmasq import Dnsmasq
from rpcnet.driver.host.dnsmasq_conf import Paths
from rpcnet.driver.host.tools import Tools
from rpcnet.errors import VirError
from tests.host.hostnet import REPO, HostDaemon
from tests.peers.requirements import need_executable
from tests.peers.virsh import virsh

_NO_INOTIFY = "echo 0 > /proc/sys/user/max_inotify_instances && exec"


def inotify_instances(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    return sum(1 for fd in fds.iterdir() if os.readlink(fd) == "anon_inode:inotify")


def test_no_dnsmasq_takes_an_inotify_instance(daemon: HostDaemon, tmp_path: Path) -> None:
    # libvirt's dnsmasq takes one to watch resolv.conf: the 129th network
    # stops at fs.inotify.max_user_instances (128 by default)
    for n, forward in enumerate(("<forward mode='nat'/>", "", "<forward mode='route'/>")):
        path = tmp_path / "n.xml"
        path.write_text(f"<network><name>ino{n}</name>{forward}<bridge name='rpcino{n}'/>"
                        f"<ip address='10.9{n}.0.1' prefix='24'><dhcp><range start='10.9{n}.0.2' "
                        f"end='10.9{n}.0.9'/></dhcp></ip></network>")
        virsh(daemon.uri, "net-create", str(path), check=True)
    pids = daemon.pids_of("/dnsmasq.conf")
    assert len(pids) == 4  # with "default"
    assert [inotify_instances(pid) for pid in pids] == [0, 0, 0, 0]


def test_dnsmasq_refused_an_inotify_instance_names_the_limit(
    host_tools: None, tmp_path: Path
) -> None:
    need_executable("unshare")
    # a dnsmasq that does need one (a hostsdir to watch), with a limit of 0
    wrapper = tmp_path / "dnsmasq"
    wrapper.write_text(f'#!/bin/sh\nexec unshare --user --map-root-user --net sh -c '
                       f'\'{_NO_INOTIFY} /usr/sbin/dnsmasq "$@" --hostsdir={tmp_path}\' '
                       'dnsmasq "$@"\n')
    wrapper.chmod(0o755)
    paths = Paths.under(tmp_path, tmp_path / "servers")
    paths.conf.write_text(f"port=0\nuser=root\npid-file={paths.pid}\n")
    dnsmasq = Dnsmasq(Tools(dnsmasq=str(wrapper)), paths, "lots")
    with pytest.raises(VirError) as err:
        asyncio.run(dnsmasq.start())
    message = err.value.message
    assert "dnsmasq for network 'lots' failed to start" in message
    assert "failed to create inotify: Too many open files" in message  # dnsmasq's words
    assert "fs.inotify.max_user_instances" in message


def test_resolv_conf_is_polled_when_no_inotify_instance_is_left(tmp_path: Path) -> None:
    need_executable("unshare")
    resolv, servers = tmp_path / "resolv.conf", tmp_path / "servers"
    resolv.write_text("nameserver 192.0.2.1\n")
    script = textwrap.dedent(f"""
        import asyncio, logging, sys
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from rpcnet.driver.host import upstream
        upstream.POLL_INTERVAL = 0.1
        logging.basicConfig(level=logging.INFO, stream=sys.stdout)
        async def main():
            watched = upstream.Upstream(Path({str(servers)!r}), Path({str(resolv)!r}))
            changed = asyncio.Event()
            watched.on_change = changed.set
            watched.watch()
            await asyncio.wait_for(changed.wait(), 5)
            print("FIRST", Path({str(servers)!r}).read_text().strip())
            changed.clear()
            Path({str(resolv)!r}).write_text("nameserver 192.0.2.2\\nnameserver 192.0.2.3\\n")
            await asyncio.wait_for(changed.wait(), 5)
            print("THEN", Path({str(servers)!r}).read_text().split())
        asyncio.run(main())
    """)
    res = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c",
                          f'{_NO_INOTIFY} "$@"', "sh", sys.executable, "-c", script],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "polling it every" in res.stdout and "fs.inotify.max_user_instances" in res.stdout
    assert "user.max_inotify_instances = 0" in res.stdout
    assert "FIRST server=192.0.2.1" in res.stdout
    assert "THEN ['server=192.0.2.2', 'server=192.0.2.3']" in res.stdout


def switches(pid: int) -> int:
    """How many times process ``pid`` has slept and woken up."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("voluntary_ctxt_switches:")[1].split()[0])


def test_dnsmasq_wakes_only_for_its_own_bridge(daemon: HostDaemon, tmp_path: Path) -> None:
    # every dnsmasq listens to the namespace's address and route changes; at
    # 1,000 networks waking all of them cost each start ~70 ms of CPU
    path = tmp_path / "n.xml"
    for name, n in (("quiet", 95), ("busy", 96)):
        path.write_text(f"<network><name>{name}</name><forward mode='nat'/>"
                        f"<bridge name='rpc{name}'/><ip address='10.{n}.0.1' prefix='24'>"
                        f"<dhcp><range start='10.{n}.0.2' end='10.{n}.0.9'/></dhcp></ip></network>")
        virsh(daemon.uri, "net-define" if name == "busy" else "net-create", str(path), check=True)
    [pid] = daemon.pids_of("quiet/dnsmasq.conf")
    before = switches(pid)
    for _ in range(2):
        virsh(daemon.uri, "net-start", "busy", check=True)
        daemon.ns.run("ip", "addr", "add", "10.96.0.77/24", "dev", "rpcbusy")
        virsh(daemon.uri, "net-destroy", "busy", check=True)
    assert switches(pid) == before  # asleep through all of it
    daemon.ns.run("ip", "addr", "add", "10.95.0.77/24", "dev", "rpcquiet")
    for _ in range(100):  # its own bridge's change does wake it
        if switches(pid) > before:
            break
        time.sleep(0.05)
    assert switches(pid) > before
