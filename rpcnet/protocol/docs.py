"""Render the tables of supported procedures (docs/procedures.md) from the
tables of the REMOTE and ADMIN programs and of rpcnet's own.

    python -m rpcnet.protocol.docs > docs/procedures.md
"""

from __future__ import annotations

from rpcnet.protocol import admin, remote, rpcnet_program
from rpcnet.protocol.program import CallStyle

_HANDLER = {
    CallStyle.CONNECTION: "the connection (`rpcnet/protocol/connection.py`)",
    CallStyle.SESSION: "daemon session",
    CallStyle.EVENT: "server → client message",
}


def render() -> str:
    lines = [
        "# Supported procedures",
        "",
        "Generated from `rpcnet/protocol/remote.py`, `rpcnet/protocol/admin.py` and",
        "`rpcnet/protocol/rpcnet_program.py` by",
        "`python -m rpcnet.protocol.docs`; a unit test keeps it in step with the tables.",
        "",
        "REMOTE program 0x20008086 version 1, plus KEEPALIVE 0x6b656570 (PING 1, PONG 2).",
        "Every other procedure of libvirt 9.0 is answered with libvirt's",
        "\"this function is not supported by the connection driver\" error.",
        "",
        "| # | procedure | public API | read-only | served by |",
        "|---|---|---|---|---|",
    ]
    for proc in sorted(remote.PROCEDURES, key=lambda p: p.number):
        handler = _HANDLER.get(proc.style) or f"`NetworkDriver.{proc.method}`"
        readonly = "yes" if proc.readonly else "denied"
        if proc.style is CallStyle.EVENT:
            readonly = "n/a"
        lines.append(f"| {proc.number} | {proc.name} | `{proc.api}` | {readonly} | {handler} |")
    lines += [
        "",
        "## The admin program",
        "",
        "ADMIN program 0x06900690 version 1 on the admin socket (`NAME-admin-sock`),",
        "plus KEEPALIVE; every procedure of libvirt 9.0's admin protocol, answered by",
        "the admin session (`rpcnet/server/admin_session.py`). Nothing needs an open",
        "first and there is no read-only mode, as in libvirtd.",
        "",
        "| # | procedure | public API |",
        "|---|---|---|",
    ]
    for proc in sorted(admin.PROCEDURES, key=lambda p: p.number):
        lines.append(f"| {proc.number} | {proc.name} | `{proc.api}` |")
    lines += [
        "",
        "## rpcnet's own program",
        "",
        f"Program {rpcnet_program.PROGRAM:#x} (ASCII \"rpcn\") version {rpcnet_program.VERSION},",
        "from `rpcnet/protocol/rpcnet_program.py`: what libvirt has no procedure for. It is",
        "served beside REMOTE on the same connection (after REMOTE's CONNECT_OPEN, for",
        "the driver that open chose); a libvirtd answers its calls",
        "\"Cannot find program\" and keeps the connection.",
        "",
        "| # | procedure | read-only | served by |",
        "|---|---|---|---|",
    ]
    for proc in rpcnet_program.PROCEDURES:
        readonly = "yes" if proc.readonly else "denied"
        lines.append(f"| {proc.number} | {proc.name} | {readonly} | "
                     f"`NetworkDriver.{proc.method}` |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
