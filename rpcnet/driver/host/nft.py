"""Running ``nft``: one atomic transaction per change, in rpcnet's own table."""

from __future__ import annotations

import json

from rpcnet.errors import ErrorCode, network_error

from . import firewall
from .firewall import Ruleset
from .tools import Tools, capture, run


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
                f"nft failed to apply firewall rules: {err or f'exit {status}'}",
            )

    async def chains(self) -> set[str]:
        """Names of the chains in rpcnet's table (empty when there is no table)."""
        nft = self._tools.find("nft")
        status, out, err = await capture([nft, "-j", "list", "table", *firewall.TABLE.split()])
        if status != 0:
            if "No such file or directory" in err:
                return set()
            raise network_error(
                ErrorCode.SYSTEM_ERROR, f"nft cannot list table {firewall.TABLE}: {err.strip()}"
            )
        items = json.loads(out).get("nftables", [])
        return {item["chain"]["name"] for item in items if "chain" in item}

    async def apply(self, ruleset: Ruleset) -> None:
        """Install ``ruleset`` in place of the network's current rules, atomically."""
        if ruleset.empty:
            await self.remove(firewall.chain_names(ruleset.bridge))
            return
        await self.transaction(firewall.render_apply(ruleset))

    async def remove(self, chains: tuple[str, ...] | set[str],
                     existing: set[str] | None = None) -> None:
        """Delete those of ``chains`` that exist; the table too when it ends up empty."""
        if existing is None:
            existing = await self.chains()
        present = [chain for chain in chains if chain in existing]
        if not present:
            return
        left = existing.difference(present)
        await self.transaction(firewall.render_remove(present, drop_table=not left))
