"""Docker 28's firewall, recreated in a test namespace with the real iptables.

Docker cannot run here, so the tests replay the iptables commands dockerd
28.5 (iptables backend, the default; Debian 12's iptables is iptables-nft)
runs for its default bridge ``docker0`` (172.17.0.1/16, default options: no
containers, icc on, masquerade on, userland proxy on), in the order it runs
them. Facts taken from moby v28.5.2, never its code:

- libnetwork/drivers/bridge/internal/iptabler/network.go ``removeIPChains``
  (at start: flush and delete Docker's chains) and iptabler.go
  ``setupIPChains``: chains DOCKER (nat and filter), DOCKER-FORWARD,
  DOCKER-BRIDGE, DOCKER-CT, DOCKER-ISOLATION-STAGE-1/2; the nat jumps from
  PREROUTING and OUTPUT; ``EnsureJumpRule`` (delete, then insert at the top)
  FORWARD -> DOCKER-FORWARD, and DOCKER-FORWARD -> DOCKER-BRIDGE,
  DOCKER-ISOLATION-STAGE-1, DOCKER-CT.
- libnetwork/firewall_linux.go ``setupUserChain``: DOCKER-USER, and its jump
  ensured at the top of FORWARD (so it comes first).
- setup_ip_forwarding.go / iptabler.go ``FilterForwardDrop``: FORWARD policy
  DROP when dockerd turned IP forwarding on itself. The tests set it in both
  orders, the harder case for anyone else's forwarding.
- the per-network rules for docker0, as in the package's golden test data
  (testdata/TestIptabler_hairpin=false,internal=false,icc=true,masq=true,
  snat=false,gwm=nat,bindlh=false__iptables.golden): ACCEPT from docker0 in
  DOCKER-FORWARD, conntrack ACCEPT to docker0 in DOCKER-CT, DOCKER-BRIDGE ->
  DOCKER, DROP of unpublished traffic to docker0 in DOCKER, the isolation
  pair, MASQUERADE of 172.17.0.0/16 leaving other than by docker0, RETURN for
  docker0 in nat DOCKER.

Docker never flushes FORWARD itself: a restart deletes and re-inserts its
own jumps and flushes its own chains (:func:`restart`).
"""

from __future__ import annotations

import re

from tests.peers.netns import IP, NetNamespace

BRIDGE, ADDRESS, SUBNET = "docker0", "172.17.0.1/16", "172.17.0.0/16"
_OWN_CHAINS = ("DOCKER", "DOCKER-FORWARD", "DOCKER-BRIDGE", "DOCKER-CT",
               "DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2")

_REMOVE = [  # removeIPChains: errors ignored (the chains may not be there)
    ["-t", "filter", "-D", "FORWARD", "-j", "DOCKER-ISOLATION"],
    ["-t", "nat", "-D", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER"],
    ["-t", "nat", "-D", "OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "!", "--dst",
     "127.0.0.0/8", "-j", "DOCKER"],
    ["-t", "nat", "-F", "DOCKER"], ["-t", "nat", "-X", "DOCKER"],
    *[[*step, chain] for chain in _OWN_CHAINS
      for step in (["-t", "filter", "-F"], ["-t", "filter", "-X"])],
]
_SETUP = [  # setupIPChains, setupUserChain, then docker0's rules
    ["-t", "nat", "-N", "DOCKER"],
    *[["-t", "filter", "-N", chain] for chain in _OWN_CHAINS],
    ["-t", "nat", "-A", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER"],
    ["-t", "nat", "-A", "OUTPUT", "!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type",
     "LOCAL", "-j", "DOCKER"],
    ["-I", "FORWARD", "-j", "DOCKER-FORWARD"],
    ["-I", "DOCKER-FORWARD", "-j", "DOCKER-BRIDGE"],
    ["-I", "DOCKER-FORWARD", "-j", "DOCKER-ISOLATION-STAGE-1"],
    ["-I", "DOCKER-FORWARD", "-j", "DOCKER-CT"],
    ["-N", "DOCKER-USER"],
    ["-I", "FORWARD", "-j", "DOCKER-USER"],
    ["-P", "FORWARD", "DROP"],
    ["-A", "DOCKER-FORWARD", "-i", BRIDGE, "-j", "ACCEPT"],
    ["-A", "DOCKER-CT", "-o", BRIDGE, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED",
     "-j", "ACCEPT"],
    ["-A", "DOCKER-BRIDGE", "-o", BRIDGE, "-j", "DOCKER"],
    ["-A", "DOCKER", "!", "-i", BRIDGE, "-o", BRIDGE, "-j", "DROP"],
    ["-A", "DOCKER-ISOLATION-STAGE-1", "-i", BRIDGE, "!", "-o", BRIDGE, "-j",
     "DOCKER-ISOLATION-STAGE-2"],
    ["-A", "DOCKER-ISOLATION-STAGE-2", "-o", BRIDGE, "-j", "DROP"],
    ["-t", "nat", "-A", "POSTROUTING", "-s", SUBNET, "!", "-o", BRIDGE, "-j", "MASQUERADE"],
    ["-t", "nat", "-A", "DOCKER", "-i", BRIDGE, "-j", "RETURN"],
]


def _iptables(ns: NetNamespace, args: list[str], *, check: bool) -> None:
    res = ns.run("iptables", "-w", *args)
    if check and res.returncode != 0:
        raise RuntimeError(f"iptables {' '.join(args)}: {res.stderr.strip()}")


def start(ns: NetNamespace) -> None:
    """dockerd's first start in ``ns``: docker0 and its firewall."""
    if BRIDGE not in ns.link_names():
        for args in (["link", "add", BRIDGE, "type", "bridge"],
                     ["addr", "add", ADDRESS, "dev", BRIDGE], ["link", "set", BRIDGE, "up"]):
            ns.run(IP, *args)
    for args in _REMOVE:
        _iptables(ns, args, check=False)
    for args in _SETUP:
        _iptables(ns, args, check=True)


def restart(ns: NetNamespace) -> None:
    """dockerd starting again: its chains flushed and rebuilt, its jumps
    moved to the top of FORWARD (deleted, then inserted)."""
    for args in (["-D", "FORWARD", "-j", "DOCKER-FORWARD"], ["-D", "FORWARD", "-j", "DOCKER-USER"]):
        _iptables(ns, args, check=False)
    for chain in _OWN_CHAINS:
        _iptables(ns, ["-t", "filter", "-F", chain], check=False)
    for args in (["-t", "nat", "-D", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL",
                  "-j", "DOCKER"],
                 ["-t", "nat", "-D", "OUTPUT", "!", "-d", "127.0.0.0/8", "-m", "addrtype",
                  "--dst-type", "LOCAL", "-j", "DOCKER"],
                 ["-t", "nat", "-D", "POSTROUTING", "-s", SUBNET, "!", "-o", BRIDGE, "-j",
                  "MASQUERADE"],
                 ["-t", "nat", "-F", "DOCKER"]):
        _iptables(ns, args, check=False)
    for args in _SETUP:
        if args[:1] != ["-N"] and args[2:3] != ["-N"]:  # its chains are still there
            _iptables(ns, args, check=True)


_COUNTERS = re.compile(r"\[\d+:\d+\]|counter packets \d+ bytes \d+")


def iptables_save(ns: NetNamespace) -> str:
    """iptables-save and ip6tables-save, without their timestamps and counters."""
    out = ns.run("iptables-save").stdout + ns.run("ip6tables-save").stdout
    return _COUNTERS.sub("", "\n".join(line for line in out.splitlines()
                                       if not line.startswith("#")))


def nft_ruleset(ns: NetNamespace) -> str:
    """``nft list ruleset`` without counters."""
    return _COUNTERS.sub("", ns.run("nft", "list", "ruleset").stdout)
