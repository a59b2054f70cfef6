"""Raw-socket helpers for feeding a live daemon bytes no real client would send."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

from rpcnet.protocol import remote
from rpcnet.protocol.message import Framer, Header, Message, MessageType, Status, encode_frame

REMOTE = remote.PROGRAM


def call_frame(proc: int, payload: bytes = b"", *, serial: int = 1, prog: int = REMOTE,
               vers: int = 1, mtype: int = MessageType.CALL, status: int = Status.OK) -> bytes:
    return encode_frame(Header(prog, vers, proc, mtype, serial, status), payload)


class RawClient:
    """A blocking UNIX-socket client that speaks frames, not APIs."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.framer = Framer()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> Message | None:
        """The next message, or None once the server closed the connection."""
        while True:
            message = self.framer.next_message()
            if message is not None:
                return message
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not data:
                return None
            self.framer.feed(data)

    def call(self, proc: int, args: tuple[object, ...] = (), *, serial: int = 1) -> Message:
        payload = remote.BY_NUMBER[proc].args.encode(args)
        self.send(call_frame(proc, payload, serial=serial))
        message = self.receive()
        assert message is not None, "server closed the connection"
        return message

    def open(self, name: str = "network:///system") -> None:
        assert self.call(66).header.status == Status.OK
        assert self.call(1, (name, 0)).header.status == Status.OK

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def error_of(message: Message) -> tuple[int, int, str]:
    assert message.header.status == Status.ERROR, message.header
    err = remote.decode_error(message.payload)
    return err.code, err.domain, err.message


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def u32(value: int) -> bytes:
    return struct.pack(">I", value)
