"""The call log as a pcap file that Wireshark's libvirt dissector decodes.

Each client connection becomes one TCP stream between 127.0.0.1:<40000 +
its number> and 127.0.0.1:16509 (libvirt's TCP port, where the dissector of
Debian's ``libvirt-wireshark`` package listens), opened with a handshake;
each call is a segment from the client at the time it came in, its answer
one from the server at the time it was answered. The frames are encoded
again from the decoded calls and answers: a reply a fault replaced or cut
appears as the daemon would have sent it (the record's ``fault`` says what
went out instead), and the daemon's events, which are not calls, are absent.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

from rpcnet.protocol import remote
from rpcnet.protocol.message import Header, MessageType, Status, encode_frame, reply_frame
from rpcnet.protocol.wiretypes import encode_error
from rpcnet.testkit.record import CallLog, CallRecord

#: libvirt's TCP port: the dissector's
LIBVIRT_PORT = 16509
_CLIENT_PORT_BASE = 40000
_LOOPBACK = bytes([127, 0, 0, 1])
_LINKTYPE_RAW = 101  # packets start with their IPv4 header
_MAX_SEGMENT = 65000
_SYN, _ACK, _PSH = 0x02, 0x10, 0x08

# (time, connection, from the client?, TCP flags, bytes)
_Packet = tuple[float, int, bool, int, bytes]


def write_pcap(calls: CallLog | Iterable[CallRecord], path: Path | str,
               wall_offset: float | None = None) -> int:
    """Write ``calls`` to ``path``; returns the number of packets written."""
    records = list(calls)
    if wall_offset is None:
        wall_offset = calls.wall_offset if isinstance(calls, CallLog) else 0.0
    packets = _packets(records)
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, _LINKTYPE_RAW))
        streams: dict[tuple[int, bool], int] = {}
        for when, conn, from_client, flags, data in packets:
            seq = streams.get((conn, from_client), 0)
            ack = streams.get((conn, not from_client), 0)
            packet = _ip_tcp(conn, from_client, flags, seq, ack, data)
            streams[(conn, from_client)] = seq + len(data) + (1 if flags & _SYN else 0)
            stamp = when + wall_offset
            seconds = int(stamp)
            out.write(struct.pack("<IIII", seconds, int((stamp - seconds) * 1e6),
                                  len(packet), len(packet)))
            out.write(packet)
    return len(packets)


def _packets(records: list[CallRecord]) -> list[_Packet]:
    packets: list[_Packet] = []
    first: dict[int, float] = {}
    for record in records:
        first.setdefault(record.connection, record.received)
        call, reply = _frames(record)
        packets += [(record.received, record.connection, True, _PSH | _ACK, chunk)
                    for chunk in _chunks(call)]
        if reply is not None and record.answered is not None:
            packets += [(record.answered, record.connection, False, _PSH | _ACK, chunk)
                        for chunk in _chunks(reply)]
    for conn, when in first.items():  # the handshake, just before the first call
        packets += [(when - 3e-6, conn, True, _SYN, b""),
                    (when - 2e-6, conn, False, _SYN | _ACK, b""),
                    (when - 1e-6, conn, True, _ACK, b"")]
    packets.sort(key=lambda p: p[0])
    return packets


def _frames(record: CallRecord) -> tuple[bytes, bytes | None]:
    """The call's frame and its answer's (None if unanswered)."""
    header = Header(record.program, record.version, record.number, MessageType.CALL,
                    record.serial, Status.OK)
    proc = remote.BY_NUMBER.get(record.number) if record.program == remote.PROGRAM else None
    payload = b"" if proc is None or record.args is None else proc.args.encode(record.args)
    call = encode_frame(header, payload)
    if record.answered is None:
        return call, None
    if record.error is not None:
        return call, reply_frame(header, Status.ERROR, encode_error(record.error))
    result = b"" if proc is None else proc.ret.encode(record.result)
    return call, reply_frame(header, Status.OK, result)


def _chunks(data: bytes) -> list[bytes]:
    return [data[i:i + _MAX_SEGMENT] for i in range(0, len(data), _MAX_SEGMENT)] or [b""]


def _ip_tcp(conn: int, from_client: bool, flags: int, seq: int, ack: int, data: bytes) -> bytes:
    client_port = _CLIENT_PORT_BASE + conn % 20000
    sport, dport = (client_port, LIBVIRT_PORT) if from_client else (LIBVIRT_PORT, client_port)
    ack_flag = flags & _ACK
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                      ack & 0xFFFFFFFF if ack_flag else 0, 5 << 4, flags, 65535, 0, 0)
    pseudo = _LOOPBACK + _LOOPBACK + struct.pack(">BBH", 0, 6, len(tcp) + len(data))
    tcp = tcp[:16] + struct.pack(">H", _checksum(pseudo + tcp + data)) + tcp[18:]
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(data), 0, 0x4000, 64, 6, 0,
                     _LOOPBACK, _LOOPBACK)
    ip = ip[:10] + struct.pack(">H", _checksum(ip)) + ip[12:]
    return ip + tcp + data


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)
