"""Running ``nft``: rpcnet's table, one atomic transaction per change.

:class:`Firewall` remembers the rules it installed for each bridge, so a
change needs no read-back of the kernel's ruleset: it renders the
transaction from what it knows (:mod:`.nft_script`) and records the result
only when nft applied it. A daemon start or reload re-creates the table from
the running networks in one transaction (:meth:`Firewall.replace_all`).
"""

from __future__ import annotations

import asyncio
from collections import Counter

from rpcnet.errors import ErrorCode, network_error

from . import nft_script
from .firewall import NetworkRules, SetKind
from .tools import Tools, run


class Nft:
    def __init__(self, tools: Tools) -> None:
        self._tools = tools

    async def transaction(self, script: str) -> None:
        """Apply ``script`` with ``nft -f -``: all of it or, on error, none."""
        if not script.strip():
            return
        nft = self._tools.find("nft")
        status, err = await run([nft, "-f", "-"], stdin=script.encode())
        if status != 0:
            raise network_error(
                ErrorCode.SYSTEM_ERROR,
                f"nft failed to apply firewall rules: {err or f'exit {status}'}")


class Firewall:
    """The elements of every network in table ``inet rpcnet``."""

    def __init__(self, tools: Tools) -> None:
        self._nft = Nft(tools)
        self._installed: dict[str, NetworkRules] = {}
        #: how many installed networks use each set kind (a change costs the
        #: same however many networks are installed)
        self._users: Counter[SetKind] = Counter()
        self._lock = asyncio.Lock()

    def _users_after(self, bridge: str, rules: NetworkRules | None) -> Counter[SetKind]:
        """The kinds in use, with their users, once ``bridge`` has ``rules``
        (None: is removed)."""
        users = self._users.copy()
        old = self._installed.get(bridge)
        if old is not None:
            users.subtract(old.kinds)
        if rules is not None:
            users.update(rules.kinds)
        return +users

    def _record(self, bridge: str, rules: NetworkRules | None, users: Counter[SetKind]) -> None:
        """Note what nft applied: ``bridge`` has ``rules``, the kinds ``users``."""
        if rules is None:
            self._installed.pop(bridge, None)
        else:
            self._installed[bridge] = rules
        self._users = users

    def has_rules(self) -> bool:
        """Whether any bridge's rules are installed."""
        return bool(self._installed)

    async def apply(self, rules: NetworkRules) -> None:
        """Install ``rules`` in place of the bridge's current ones, atomically."""
        async with self._lock:
            old = self._installed.get(rules.bridge)
            new = None if rules.empty else rules
            before = old.elements if old is not None else frozenset()
            users = self._users_after(rules.bridge, new)
            await self._nft.transaction(nft_script.change(
                set(users), add=rules.elements - before, remove=before - rules.elements))
            self._record(rules.bridge, new, users)

    async def remove(self, bridge: str) -> None:
        """Delete the bridge's rules (nothing to do when none are installed)."""
        async with self._lock:
            old = self._installed.get(bridge)
            if old is None:
                return
            users = self._users_after(bridge, None)
            await self._nft.transaction(nft_script.change(set(users), remove=old.elements))
            self._record(bridge, None, users)

    async def replace_all(self, networks: list[NetworkRules]) -> None:
        """Make the table hold exactly ``networks``' rules, in one transaction."""
        async with self._lock:
            wanted = {rules.bridge: rules for rules in networks if not rules.empty}
            await self._nft.transaction(nft_script.replace_table(list(wanted.values())))
            self._installed = wanted
            self._users = Counter(kind for rules in wanted.values() for kind in rules.kinds)
