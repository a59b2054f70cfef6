"""``rpcnetd import-libvirt``: take over a host's libvirt networks.

Reads libvirt's persistent network definitions and autostart links (by
default ``/etc/libvirt/qemu/networks``) and defines them in rpcnetd's state
directory, the one ``rpcnetd --state-dir`` (or ``--driver host`` without it)
uses, while no rpcnetd runs on it (the state directory's lock says so).
Nothing in the source directory changes. Exit status 0 when every file was
imported, 1 when some were skipped (each is named, with the reason), 2 when
nothing could be done.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from rpcnet.cli.rpcnetd import DEFAULT_HOST_STATE_DIR
from rpcnet.driver.libvirt_import import (
    DEFAULT_SOURCE,
    ImportReport,
    import_networks,
    read_libvirt_networks,
)
from rpcnet.driver.service import NetworkService
from rpcnet.driver.store import DiskStore, lock_directory
from rpcnet.errors import VirError


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="rpcnetd import-libvirt",
        description="Define libvirt's persistent networks, with their autostart flags, in "
                    "rpcnetd's state directory (rpcnetd must not be running on it).")
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE,
                        help="libvirt's network definitions: NAME.xml files and autostart/ "
                             "links (default %(default)s)")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_HOST_STATE_DIR,
                        help="rpcnetd's state directory, as given to rpcnetd --state-dir "
                             "(default %(default)s, --driver host's)")
    return parser.parse_args(argv)


async def take_over(source: Path, state_dir: Path) -> ImportReport:
    """Import ``source`` into the network state under ``state_dir``; raises
    OSError (StateInUse when a daemon holds it) if nothing can be done."""
    found = read_libvirt_networks(source)
    network_state = state_dir / "network"
    lock = lock_directory(network_state)
    try:
        service = NetworkService("network", store=DiskStore(network_state))
        await service.load(adopt=False)
        report = await import_networks(service, found.imported)
        report.skipped[:0] = found.skipped
        return report
    finally:
        os.close(lock)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        report = asyncio.run(take_over(args.source, args.state_dir))
    except OSError as exc:
        print(f"rpcnetd import-libvirt: {exc}", file=sys.stderr)
        return 2
    except VirError as exc:
        print(f"rpcnetd import-libvirt: {exc.message}", file=sys.stderr)
        return 2
    for item in report.imported:
        flag = " (autostart)" if item.autostart else ""
        print(f"imported network '{item.name}' from {item.path}{flag}")
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(f"{len(report.imported)} networks imported into {args.state_dir / 'network'}, "
          f"{len(report.skipped)} files skipped")
    return 1 if report.skipped else 0
