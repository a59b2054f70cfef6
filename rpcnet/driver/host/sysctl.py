"""Kernel switches under /proc/sys (per network namespace)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rpcnet.errors import ErrorCode, network_error

_PROC = Path("/proc/sys/net")


def _write(path: Path, value: str) -> None:
    try:
        if path.read_text().strip() == value:
            return
        path.write_text(value + "\n")
    except OSError as exc:
        raise network_error(
            ErrorCode.SYSTEM_ERROR, f"cannot write '{value}' to {path}: {exc.strerror or exc}"
        ) from exc


async def enable_forwarding(versions: set[int]) -> None:
    """Turn on IPv4 and/or IPv6 forwarding; it stays on, as with libvirt."""
    if 4 in versions:
        await asyncio.to_thread(_write, _PROC / "ipv4" / "ip_forward", "1")
    if 6 in versions:
        await asyncio.to_thread(_write, _PROC / "ipv6" / "conf" / "all" / "forwarding", "1")


async def configure_ipv6(ifname: str, enable: bool) -> None:
    """IPv6 on the bridge only when the network has an IPv6 address, as
    libvirt 9.0 does (``<network ipv6='yes'>`` does not change that: guests
    talk IPv6 across the bridge without it); either way the host takes no
    router advertisements or autoconfigured addresses from guests."""
    conf = _PROC / "ipv6" / "conf" / ifname

    def write() -> None:
        if not conf.is_dir():
            return  # a kernel without IPv6: nothing to switch off (libvirt agrees)
        _write(conf / "disable_ipv6", "0" if enable else "1")
        _write(conf / "accept_ra", "0")
        _write(conf / "autoconf", "0")

    await asyncio.to_thread(write)
