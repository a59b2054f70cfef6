"""``rpcnet net-list --all`` fanned out over SSH to a fleet, against virsh.

Not a test. Builds ``--hosts`` hosts as the ssh tests do (each a network
namespace with sshd and rpcnetd at libvirt's socket names, reached from a
client namespace; tests/peers/sshhost.py), then times, on the client side:

- the console on one host and on all of them, over ``+ssh`` (one ssh process
  per host) and ``+libssh`` (asyncssh in process), with the default
  ``--parallel`` and with ``--parallel`` = the number of hosts;
- virsh once per host, one after the other (a shell loop) and all at once;
- the ``+ssh`` console again with ``KexAlgorithms curve25519-sha256`` in the
  client's ssh config (OpenSSH 9's default exchange is the costly part).

Wall time is the median of ``--runs``; client CPU is the user and system
time of the client processes and their ssh children (median); far CPU that
of every far side (each sshd with the sessions it reaped, virt-ssh-helper
included, and each rpcnetd); memory is the peak of the summed PSS of the
client's process tree, sampled every 20 ms. The far sides run on this same
machine, so on a small one their CPU, not the client's, sets the wall time
of a large fan-out. Needs root, sshd and virsh.

    .venv/bin/python -m bench.ssh_fanout --hosts 50 --runs 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rpcnet.cli.console.hosts import DEFAULT_PARALLEL
from tests.peers.sshhost import SshFleet, descendants

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
TICK = os.sysconf("SC_CLK_TCK")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int, *, children: bool) -> float:
    """CPU seconds of ``pid`` (and of the children it has reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = fields[11:15] if children else fields[11:13]  # utime stime [cutime cstime]
    return sum(int(t) for t in ticks) / TICK


def _far_cpu(fleet: SshFleet) -> float:
    """CPU of every far side: sshd with its reaped sessions (virt-ssh-helper
    included), and rpcnetd."""
    total = 0.0
    for host in fleet.hosts:
        if host.sshd is not None:
            total += _process_cpu(host.sshd.pid, children=True)
        if host.rpcnetd is not None:
            total += _process_cpu(host.rpcnetd.pid, children=False)
    return total


def timed(fleet: SshFleet, commands: list[list[str]]) -> Sample:
    """Run ``commands`` at once on the client side; (seconds, client CPU seconds,
    far sides' CPU seconds, peak KiB). (nsenter execs the command: it is our
    child, and its ssh children are its.)"""
    cpu, far = _cpu(), _far_cpu(fleet)
    started = time.perf_counter()
    procs = [subprocess.Popen(fleet.client.args(*cmd), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=fleet.client.env())
             for cmd in commands]
    memory = PeakMemory([p.pid for p in procs])
    failures = [p.communicate()[1] for p in procs if p.wait() != 0]
    elapsed = time.perf_counter() - started
    peak = memory.stop()
    if failures:
        raise RuntimeError(f"{len(failures)} failed: {failures[0].decode()[-500:]}")
    time.sleep(0.2)  # the far sides reap their sessions
    return elapsed, _cpu() - cpu, _far_cpu(fleet) - far, peak


def summary(samples: list[Sample]) -> Sample:
    return (*(statistics.median(s[i] for s in samples) for i in range(3)),
            max(s[3] for s in samples))


def uri(host: str, transport: str) -> str:
    return f"network+{transport}://{host}/system"


def measure(fleet: SshFleet, runs: int) -> list[tuple[str, float, float, float, int]]:
    count = len(fleet.hosts)
    names = [h.name for h in fleet.hosts]
    files = {}
    for transport in ("ssh", "libssh"):
        path = fleet.root / f"hosts-{transport}"
        path.write_text("".join(f"{n} {uri(n, transport)}\n" for n in names))
        files[transport] = str(path)
    cases: list[tuple[str, list[list[str]]]] = []
    for transport in ("ssh", "libssh"):
        cases += [
            (f"rpcnet +{transport}, 1 host",
             [[*RPCNET, "-c", uri(names[0], transport), "net-list", "--all"]]),
            (f"rpcnet +{transport}, {count} hosts (--parallel {DEFAULT_PARALLEL})",
             [[*RPCNET, "--hosts", files[transport], "net-list", "--all"]]),
            (f"rpcnet +{transport}, {count} hosts (--parallel {count})",
             [[*RPCNET, "--hosts", files[transport], "--parallel", str(count), "net-list",
               "--all"]]),
        ]
    virsh = [["/usr/bin/virsh", "-c", uri(n, "ssh"), "net-list", "--all"] for n in names]
    cases.append(("virsh +ssh, 1 host", virsh[:1]))
    results = []
    for label, commands in cases:
        results.append((label, *summary([timed(fleet, commands) for _ in range(runs)])))
    # OpenSSH 9's default key exchange (sntrup761x25519) costs ssh ~50 ms of CPU
    # on each side; what a fleet's ~/.ssh/config can choose instead:
    config = fleet.client.ssh_dir / "config"
    config.write_text(f"KexAlgorithms {CHEAP_KEX}\n")
    try:
        for label, commands in cases[:2]:
            results.append((f"{label}, {CHEAP_KEX}",
                            *summary([timed(fleet, commands) for _ in range(runs)])))
    finally:
        config.unlink()
    loop = []
    for _ in range(runs):
        one_by_one = [timed(fleet, [command]) for command in virsh]
        loop.append((*(sum(s[i] for s in one_by_one) for i in range(3)),
                     max(s[3] for s in one_by_one)))
    results.append((f"virsh +ssh, {count} hosts one after the other", *summary(loop)))
    results.append((f"virsh +ssh, {count} hosts all at once",
                    *summary([timed(fleet, virsh) for _ in range(runs)])))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    with SshFleet(args.hosts) as fleet:
        print(f"{args.hosts} hosts up in {time.perf_counter() - started:.1f} s", flush=True)
        results = measure(fleet, args.runs)
    width = max(len(row[0]) for row in results)
    print(f"{'':<{width}}  {'wall s':>7}  {'client CPU s':>12}  {'far CPU s':>9}  "
          f"{'peak MiB':>8}")
    for label, seconds, cpu, far, peak in results:
        print(f"{label:<{width}}  {seconds:7.2f}  {cpu:12.2f}  {far:9.2f}  {peak / 1024:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
