"""What the host backend created for one running network, on disk.

Each network has a directory ``RUN/NAME/`` holding its dnsmasq files and
``host.json``: the network's name and bridge, written before anything is
created and removed only after everything is gone. A directory without a
running network is a leftover (a crash mid-start or mid-destroy) that the
next daemon start tears down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

from rpcnet.driver.store import write_atomic

RECORD = "host.json"


@dataclass(frozen=True, slots=True)
class Record:
    """What runs for one network: its bridge and its dnsmasq's pid (None
    when it needs none). Written with the bridge alone before a start, in
    full once everything runs. ``bridge`` is None for a network that uses
    the host's own interfaces."""

    network: str
    bridge: str | None
    dnsmasq_pid: int | None = None


class RunDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._searchable: bool | None = None

    async def searchable_by_others(self) -> bool:
        """Whether every directory down to the root lets other users through
        (dnsmasq reads its hosts files after dropping root)."""
        if self._searchable is None:
            self._searchable = await asyncio.to_thread(_searchable, self.root)
        return self._searchable

    def dir(self, network: str) -> Path:
        return self.root / network

    async def write(self, record: Record) -> None:
        """Save ``record`` (atomically; not at all when it is already saved)."""

        def save() -> None:
            path = self.dir(record.network)
            text = json.dumps(asdict(record)) + "\n"
            with contextlib.suppress(OSError):
                if (path / RECORD).read_text() == text:
                    return
            # dnsmasq drops to an unprivileged user and re-reads files here on SIGHUP
            path.mkdir(mode=0o755, parents=True, exist_ok=True)
            path.chmod(0o755)
            write_atomic(path / RECORD, text)

        await asyncio.to_thread(save)

    async def remove(self, network: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.dir(network), True)

    async def records(self) -> list[Record]:
        """Every network directory's record (unreadable ones are skipped)."""

        def scan() -> list[Record]:
            found: list[Record] = []
            if not self.root.is_dir():
                return found
            for path in sorted(self.root.iterdir()):
                try:
                    data = json.loads((path / RECORD).read_text())
                    found.append(Record(network=data["network"], bridge=data["bridge"],
                                        dnsmasq_pid=data.get("dnsmasq_pid")))
                except (OSError, ValueError, KeyError, TypeError):
                    continue
            return found

        return await asyncio.to_thread(scan)


def _searchable(path: Path) -> bool:
    for directory in [path, *path.parents]:
        try:
            mode = os.stat(directory).st_mode
        except FileNotFoundError:
            continue  # created later with mode 0755
        if not mode & stat.S_IXOTH:
            return False
    return True
