"""Render the tables of supported procedures (docs/procedures.md) from the
REMOTE and ADMIN programs' tables.

    python -m rpcnet.protocol.docs > docs/procedures.md
"""

from __future__ import annotations

from rpcnet.protocol import admin, remote
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
        "Generated from `rpcnet/protocol/remote.py` and `rpcnet/protocol/admin.py` by",
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
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
