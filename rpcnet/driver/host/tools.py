"""The helper programs the host backend runs, and how it runs them."""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass

from rpcnet.errors import ErrorCode, network_error

_SEARCH = "/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class Tools:
    """Paths (or names looked up on PATH and the sbin dirs) of the helpers."""

    dnsmasq: str = "dnsmasq"
    nft: str = "nft"
    # iptables' own tables (only when Docker or another user of them is there)
    iptables: str = "iptables-nft"
    iptables_restore: str = "iptables-nft-restore"
    ip6tables: str = "ip6tables-nft"
    ip6tables_restore: str = "ip6tables-nft-restore"

    def find(self, name: str) -> str:
        """The absolute path of helper ``name`` (``"dnsmasq"``, ``"nft"``, ...);
        a VirError naming it when it is not installed."""
        wanted = str(getattr(self, name))
        if os.sep in wanted:
            found = wanted if os.access(wanted, os.X_OK) else None
        else:
            path = os.environ.get("PATH", "")
            found = shutil.which(wanted, path=f"{path}:{_SEARCH}" if path else _SEARCH)
        if found is None:
            raise network_error(
                ErrorCode.SYSTEM_ERROR,
                f"Cannot find {name} binary '{wanted}': "
                "No such file or directory (is it installed?)",
            )
        return found


async def run(argv: list[str], *, stdin: bytes | None = None,
              timeout: float = 30.0) -> tuple[int, str]:
    """Run ``argv``; returns the exit status and its stderr (stdout is dropped)."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    return proc.returncode or 0, err.decode(errors="replace").strip()


async def capture(argv: list[str], *, timeout: float = 30.0) -> tuple[int, str, str]:
    """Run ``argv``; returns the exit status, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
