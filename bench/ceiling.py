"""The ceiling: a minimal server that answers the benchmark's calls with
precomputed bytes.

It speaks just enough of the protocol for virsh-like clients and the
benchmark's workloads (handshake, lookup, is-active, get-xml-desc,
list-all, define, event registration, keepalive) and does no decoding,
validation or driver work beyond finding the reply of a procedure number
in a dict and patching in the serial. Whatever rate a load generator gets
from it is what the transport and the client allow; rpcnetd's rate as a
fraction of it shows what the daemon itself costs.

Run it as ``python -m bench.ceiling --socket PATH``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import struct
import sys
import uuid
from collections.abc import Callable
from typing import Any, cast

from rpcnet.driver.service import open_memory
from rpcnet.protocol import keepalive, remote
from rpcnet.protocol.remote import Proc
from rpcnet.protocol.values import NetworkRef

_HEAD = struct.Struct(">IIIIiIi")
_PREFIX = struct.Struct(">IIIIi")  # length, prog, vers, proc, type: all but serial and status
_SERIAL_OK = struct.Struct(">Ii")
_NAME = re.compile(rb"<name>([^<]+)</name>")
_REPLY = 1
_DEFINE_PROCS = (41, 432)
_LIST_ALL = 283


def _encode(number: int, value: Any) -> bytes:
    return remote.BY_NUMBER[number].ret.encode(value)


async def _fixed_replies() -> tuple[dict[int, bytes], NetworkRef]:
    """Reply payload of every argument-independent procedure, as rpcnetd's
    test driver would answer it, and the handle of its ``default`` network."""
    driver = await open_memory("test")
    ref = await driver.network_lookup_by_name("default")
    xml = await driver.network_get_xml_desc(ref, 0)
    values: dict[int, Any] = {
        Proc.AUTH_LIST: ([0],), Proc.CONNECT_SUPPORTS_FEATURE: (1,), Proc.CONNECT_OPEN: None,
        Proc.CONNECT_CLOSE: None, Proc.CONNECT_GET_URI: ("test:///default",),
        Proc.CONNECT_IS_SECURE: (1,), Proc.CONNECT_GET_LIB_VERSION: (9_000_000,),
        Proc.CONNECT_REGISTER_CLOSE_CALLBACK: None,
        Proc.CONNECT_UNREGISTER_CLOSE_CALLBACK: None, 3: ("TEST",),
        46: (ref,), 47: (ref,), 152: (True,), 153: (True,), 43: (xml,),
        Proc.CONNECT_NETWORK_EVENT_REGISTER_ANY: (0,),
        Proc.CONNECT_NETWORK_EVENT_DEREGISTER_ANY: None,
    }
    return {number: _encode(number, value) for number, value in values.items()}, ref


class Answers:
    """Reply payloads by procedure number; define and list-all keep a list."""

    def __init__(self, fixed: dict[int, bytes], default: NetworkRef) -> None:
        self.fixed = fixed
        self.nets = [default]
        self._list_all: bytes | None = None

    def payload(self, number: int, args: bytes) -> bytes | None:
        found = self.fixed.get(number)
        if found is not None:
            return found
        if number == _LIST_ALL:
            if self._list_all is None:
                self._list_all = _encode(_LIST_ALL, (self.nets, len(self.nets)))
            return self._list_all
        if number in _DEFINE_PROCS:
            match = _NAME.search(args)
            ref = NetworkRef(match.group(1).decode() if match else "x", uuid.uuid4().bytes)
            self.nets.append(ref)
            self._list_all = None
            return _encode(number, (ref,))
        return None


class CeilingProtocol(asyncio.Protocol):
    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        out: list[bytes] = []
        pos, end = 0, len(buffer)
        while end - pos >= 28:
            length, prog, vers, proc, _type, serial, _status = _HEAD.unpack_from(buffer, pos)
            if end - pos < length:
                break
            if prog == keepalive.PROGRAM:
                if proc == keepalive.PING:
                    out.append(keepalive.PONG_FRAME)
            else:
                payload = self.answers.payload(proc, bytes(buffer[pos + 28:pos + length]))
                if payload is None:
                    print(f"ceiling: no answer for procedure {proc}", file=sys.stderr)
                    payload = b""
                out.append(_PREFIX.pack(28 + len(payload), prog, vers, proc, _REPLY))
                out.append(_SERIAL_OK.pack(serial, 0))
                out.append(payload)
            pos += length
        del buffer[:pos]
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


async def serve(path: str) -> None:
    answers = Answers(*await _fixed_replies())
    factory: Callable[[], asyncio.Protocol] = lambda: CeilingProtocol(answers)  # noqa: E731
    server = await asyncio.get_running_loop().create_unix_server(factory, path, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True)
    args = parser.parse_args()
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.socket))
    else:
        uvloop.run(serve(args.socket))


if __name__ == "__main__":
    main()
