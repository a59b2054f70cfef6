"""rpcnet's bridges past a DROP policy of iptables' FORWARD chain (Docker's).

Docker sets the policy of the iptables filter FORWARD chain to DROP
(through iptables-nft on Debian 12). A packet must be accepted by every
base chain on its hook, so no accept in rpcnet's own table can undo that
drop: the decision is taken in that chain, and only a rule in it can change
it. So, while at least one network runs and the chain's policy is DROP,
rpcnetd appends two rules to it, with iptables itself so that the chain
stays iptables' to read and write:

    -A FORWARD -m devgroup --src-group 0x7270 -m comment --comment rpcnet -j ACCEPT
    -A FORWARD -m devgroup --dst-group 0x7270 -m comment --comment rpcnet -j ACCEPT

Every bridge rpcnetd creates is in device group 0x7270 (:data:`.bridge.GROUP`),
so these two rules serve any number of networks. They come last: whatever
Docker or the administrator decided before them (DOCKER-USER, Docker's
isolation rules) still holds, only the policy's verdict is overridden, and
only for traffic that rpcnet's own table let through (it rejects what
libvirt's rules reject). The same holds for ip6tables.

The rules are checked when the first network starts, when the last one
stops (then they are removed, leaving the chain as it was), at daemon start
and SIGHUP, and whenever an iptables table changes (a netlink notification,
:mod:`.nfevents`): Docker starting, restarting or flushing its chains is
noticed and the rules come back within a few tens of milliseconds. Without
a FORWARD chain whose policy is DROP nothing is touched or created.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from rpcnet.errors import ErrorCode, network_error

from .bridge import GROUP
from .nfevents import TableWatcher
from .tools import Tools, capture, run

log = logging.getLogger(__name__)

COMMENT = "rpcnet"
RULES = tuple(f"-A FORWARD -m devgroup --{side}-group {GROUP:#x} -m comment --comment {COMMENT} "
              "-j ACCEPT" for side in ("src", "dst"))
_TOOLS = {4: ("iptables", "iptables_restore"), 6: ("ip6tables", "ip6tables_restore")}


class ForwardAccept:
    """The accept rules in iptables' and ip6tables' FORWARD chains."""

    def __init__(self, tools: Tools) -> None:
        self._tools = tools
        self._needed = False
        self._lock = asyncio.Lock()
        self._watcher = TableWatcher({socket.AF_INET, socket.AF_INET6}, self.check)

    async def need(self, needed: bool, *, recheck: bool = False) -> None:
        """Whether rpcnet networks run; checks the chains when that changes
        (or anyway, with ``recheck``: daemon start and SIGHUP)."""
        if needed != self._needed or recheck:
            self._needed = needed
            await self.check()

    def watch(self) -> None:
        """Check again whenever an iptables table changes, until :meth:`close`."""
        try:
            self._watcher.start()
        except OSError as exc:
            log.warning("cannot follow changes of iptables' tables (%s): a FORWARD policy "
                        "of DROP set after now is only seen at SIGHUP", exc)

    def close(self) -> None:
        self._watcher.close()

    async def check(self) -> None:
        """Add the rules where a FORWARD policy of DROP needs them, remove
        them where nothing does; errors are logged (the daemon lives on)."""
        async with self._lock:
            for version in (4, 6):
                try:
                    await self._check(version)
                except Exception as exc:
                    log.error("cannot check the IPv%d FORWARD chain of iptables: %s",
                              version, exc)

    async def _check(self, version: int) -> None:
        lister, restorer = _TOOLS[version]
        try:
            binary = self._tools.find(lister)
        except Exception:
            return  # no iptables: nothing can have set its policy
        status, out, err = await capture([binary, "-w", "-S", "FORWARD"])
        if status != 0:
            raise network_error(ErrorCode.SYSTEM_ERROR, f"{binary} -S FORWARD: {err.strip()}")
        lines = out.splitlines()
        present = [rule for rule in RULES if rule in lines]
        if self._needed and "-P FORWARD DROP" in lines:
            missing = [rule for rule in RULES if rule not in present]
            if missing:
                await self._restore(restorer, missing)
                log.info("IPv%d FORWARD policy is DROP: accepting traffic of rpcnet's "
                         "bridges at its end", version)
        elif present:
            await self._restore(restorer, [rule.replace("-A ", "-D ", 1) for rule in present])
            log.info("IPv%d FORWARD chain: removed rpcnet's accept rules", version)

    async def _restore(self, restorer: str, rules: list[str]) -> None:
        """Apply ``rules`` in one iptables transaction."""
        script = "*filter\n" + "".join(f"{rule}\n" for rule in rules) + "COMMIT\n"
        status, err = await run([self._tools.find(restorer), "-w", "--noflush"],
                                stdin=script.encode())
        if status != 0:
            raise network_error(
                ErrorCode.SYSTEM_ERROR, f"{restorer} failed: {err or f'exit {status}'}")
