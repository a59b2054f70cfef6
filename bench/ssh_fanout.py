"""``rpcnet net-list --all`` fanned out over SSH to a fleet, against virsh.

Not a test. Builds ``--hosts`` hosts as the ssh tests do (each a network
namespace with sshd and rpcnetd at libvirt's socket names, reached from a
client namespace; tests/peers/sshhost.py), then times, on the client side:

- the console on one host and on all of them, over ``+ssh`` (one ssh process
  per host) and ``+libssh`` (asyncssh in process), with the default
  ``--parallel`` and with ``--parallel`` = the number of hosts;
- virsh once per host, one after the other (a shell loop) and all at once;
- the ``+ssh`` console again with ``KexAlgorithms curve25519-sha256`` in the
  client's ssh config (OpenSSH 9's default exchange is the costly part);
- both consoles again against hosts with rpcnet and no libvirt, the
  README's two ways: sessions run ``rpcnet-ssh-helper`` installed as
  virt-ssh-helper, or ``nc`` to rpcnetd at libvirtd's socket names.

Wall time is the median of ``--runs``; client CPU is the CPU time of the
client processes and all they start (median); far CPU that of every far
side (each sshd with its sessions, the helper included, and each rpcnetd),
both counted by cgroups of the bench's own (bench/cpugroup.py), so nothing a
parent does not wait for is missed; memory is the peak of the summed PSS of the
client's process tree, sampled every 20 ms. The far sides run on this same
machine, so on a small one their CPU, not the client's, sets the wall time
of a large fan-out. Needs root, sshd and virsh.

    .venv/bin/python -m bench.ssh_fanout --hosts 50 --runs 5
"""

from __future__ import annotations

import argparse
import compileall
import functools
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rpcnet
from bench.cpugroup import CpuGroup
from rpcnet.cli.console.hosts import DEFAULT_PARALLEL
from tests.peers.sshhost import SshFleet, SshHost, descendants, rpcnet_ssh_helper, ssh_uri

RPCNET = [sys.executable, "-m", "rpcnet.cli.console"]
CHEAP_KEX = "curve25519-sha256"


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class PeakMemory:
    """The peak summed PSS of the trees under ``roots()``, sampled in a thread."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            pids = [p for root in self.roots for p in (root, *descendants(root))]
            self.peak = max(self.peak, sum(pss_kib(p) for p in pids))
            self._stop.wait(0.02)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


Sample = tuple[float, float, float, int]


class Meter:
    """CPU groups for the client side (each command and all it starts) and
    for the far sides (each host's sshd with its sessions, and rpcnetd)."""

    def __init__(self) -> None:
        self.client = CpuGroup("rpcnet-bench-client")
        self.far = CpuGroup("rpcnet-bench-far")

    def add_hosts(self, fleet: SshFleet) -> None:
        """The far group takes every host's daemons as they run now."""
        for host in fleet.hosts:
            for proc in (host.sshd, host.rpcnetd):
                if proc is not None:
                    self.far.add(proc.pid)

    def close(self) -> None:
        self.client.close()
        self.far.close()


def timed(fleet: SshFleet, meter: Meter, commands: list[list[str]]) -> Sample:
    """Run ``commands`` at once on the client side; (seconds, client CPU seconds,
    far sides' CPU seconds, peak KiB). (nsenter execs the command: it is our
    child, and its ssh children are its.)"""
    cpu, far = meter.client.seconds(), meter.far.seconds()
    started = time.perf_counter()
    procs = [subprocess.Popen(fleet.client.args(*cmd), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=fleet.client.env(),
                              preexec_fn=meter.client.join)
             for cmd in commands]
    memory = PeakMemory([p.pid for p in procs])
    failures = [p.communicate()[1] for p in procs if p.wait() != 0]
    elapsed = time.perf_counter() - started
    peak = memory.stop()
    if failures:
        raise RuntimeError(f"{len(failures)} failed: {failures[0].decode()[-500:]}")
    time.sleep(0.2)  # the far sides end their sessions
    return elapsed, meter.client.seconds() - cpu, meter.far.seconds() - far, peak


def summary(samples: list[Sample]) -> Sample:
    wall, client, far = (statistics.median(s[i] for s in samples) for i in range(3))
    return wall, client, far, max(s[3] for s in samples)


def repeated(fleet: SshFleet, meter: Meter, commands: list[list[str]], runs: int) -> Sample:
    """The :func:`summary` of ``runs`` :func:`timed` runs of ``commands``."""
    return summary([timed(fleet, meter, commands) for _ in range(runs)])


def _rpcnet_only(host: SshHost, socket_name: str, links: dict[str, str],
                 tools: tuple[str, ...]) -> None:
    if socket_name != "virtnetworkd":
        host.start_rpcnetd(socket_name)
    host.use_tools(links, *tools)


def measure(fleet: SshFleet, meter: Meter, runs: int) -> list[tuple[str, float, float, float, int]]:
    count = len(fleet.hosts)
    names = [h.name for h in fleet.hosts]
    files = {}
    for transport in ("ssh", "libssh"):
        path = fleet.root / f"hosts-{transport}"
        path.write_text("".join(f"{n} {ssh_uri(n, transport)}\n" for n in names))
        files[transport] = str(path)
    cases: list[tuple[str, list[list[str]]]] = []
    for transport in ("ssh", "libssh"):
        cases += [
            (f"rpcnet +{transport}, 1 host",
             [[*RPCNET, "-c", ssh_uri(names[0], transport), "net-list", "--all"]]),
            (f"rpcnet +{transport}, {count} hosts (--parallel {DEFAULT_PARALLEL})",
             [[*RPCNET, "--hosts", files[transport], "net-list", "--all"]]),
            (f"rpcnet +{transport}, {count} hosts (--parallel {count})",
             [[*RPCNET, "--hosts", files[transport], "--parallel", str(count), "net-list",
               "--all"]]),
        ]
    virsh = [["/usr/bin/virsh", "-c", ssh_uri(n, "ssh"), "net-list", "--all"] for n in names]
    cases.append(("virsh +ssh, 1 host", virsh[:1]))
    results = []
    for label, commands in cases:
        results.append((label, *repeated(fleet, meter, commands, runs)))
    # OpenSSH 9's default key exchange (sntrup761x25519) costs ssh ~50 ms of CPU
    # on each side; what a fleet's ~/.ssh/config can choose instead:
    config = fleet.client.ssh_dir / "config"
    config.write_text(f"KexAlgorithms {CHEAP_KEX}\n")
    try:
        for label, commands in cases[:2]:
            results.append((f"{label}, {CHEAP_KEX}",
                            *repeated(fleet, meter, commands, runs)))
    finally:
        config.unlink()
    loop: list[Sample] = []
    for _ in range(runs):
        one_by_one = [timed(fleet, meter, [command]) for command in virsh]
        wall, client, far = (sum(s[i] for s in one_by_one) for i in range(3))
        loop.append((wall, client, far, max(s[3] for s in one_by_one)))
    results.append((f"virsh +ssh, {count} hosts one after the other", *summary(loop)))
    results.append((f"virsh +ssh, {count} hosts all at once",
                    *repeated(fleet, meter, virsh, runs)))
    # Hosts with rpcnet and no libvirt, the README's two ways: rpcnet's helper as
    # their virt-ssh-helper, or rpcnetd at libvirtd's socket names and nc.
    helper = rpcnet_ssh_helper()
    setups = [("rpcnet-ssh-helper", "virtnetworkd", {"virt-ssh-helper": helper}, ()),
              ("nc to rpcnetd at libvirt-sock", "libvirt", {}, ("nc",))]
    for setup, socket_name, links, tools in setups:
        fleet.each(functools.partial(_rpcnet_only, socket_name=socket_name, links=links,
                                     tools=tools))
        meter.add_hosts(fleet)
        for label, commands in (*cases[0:2], *cases[3:5]):
            results.append((f"{label}, {setup}",
                            *repeated(fleet, meter, commands, runs)))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    # An installed rpcnet has its bytecode; a checkout run with
    # PYTHONDONTWRITEBYTECODE would compile it again in every process.
    compileall.compile_dir(Path(rpcnet.__file__).parent, quiet=1)
    meter = Meter()
    try:
        with SshFleet(args.hosts) as fleet:
            print(f"{args.hosts} hosts up in {time.perf_counter() - started:.1f} s", flush=True)
            meter.add_hosts(fleet)
            results = measure(fleet, meter, args.runs)
    finally:
        meter.close()
    width = max(len(row[0]) for row in results)
    print(f"{'':<{width}}  {'wall s':>7}  {'client CPU s':>12}  {'far CPU s':>9}  "
          f"{'peak MiB':>8}")
    for label, seconds, cpu, far, peak in results:
        print(f"{label:<{width}}  {seconds:7.2f}  {cpu:12.2f}  {far:9.2f}  {peak / 1024:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
