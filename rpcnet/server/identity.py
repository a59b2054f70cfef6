"""Who a client is: libvirt's identity of a connection.

libvirtd gives each client an identity, a typed parameter list made from
its socket (a UNIX peer's user, group and process; a TLS peer's certificate
DN) and replaced wholesale by CONNECT_SET_IDENTITY, with which libvirt's
QEMU driver forwards the identity of the guest's owner. The admin program
shows it in a client's info; rpcnetd's log lines for the client carry it
once it was set.
"""

from __future__ import annotations

import asyncio
import grp
import pwd
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from rpcnet.protocol.admin import Transport
from rpcnet.protocol.remote import IDENTITY_PARAMS
from rpcnet.protocol.typedparams import first, validate
from rpcnet.protocol.values import ParamType, TypedParam
from rpcnet.server.dn import certificate_dn
from rpcnet.server.tls import describe_address

USER_NAME = "user-name"
UNIX_USER_ID = "unix-user-id"
GROUP_NAME = "group-name"
UNIX_GROUP_ID = "unix-group-id"
PROCESS_ID = "process-id"
PROCESS_TIME = "process-time"
SASL_USER_NAME = "sasl-user-name"
X509_DNAME = "x509-distinguished-name"
SELINUX_CONTEXT = "selinux-context"



@dataclass(frozen=True, slots=True)
class Identity:
    """An identity's parameters in the order they were given."""

    params: tuple[TypedParam, ...] = ()

    @classmethod
    def from_parameters(cls, params: Sequence[TypedParam]) -> Identity:
        """The identity a client sent; raises VirError as libvirtd does for
        an unknown key, a wrong type or a key given twice."""
        validate(params, IDENTITY_PARAMS)
        return cls(tuple(params))

    @classmethod
    def of_unix_peer(cls, uid: int, gid: int, pid: int) -> Identity:
        """What libvirtd makes of a UNIX socket's peer credentials."""
        params = []
        user = _user_name(uid)
        if user is not None:
            params.append(TypedParam(USER_NAME, ParamType.STRING, user))
        params.append(TypedParam(UNIX_USER_ID, ParamType.ULLONG, uid))
        group = _group_name(gid)
        if group is not None:
            params.append(TypedParam(GROUP_NAME, ParamType.STRING, group))
        params.append(TypedParam(UNIX_GROUP_ID, ParamType.ULLONG, gid))
        params.append(TypedParam(PROCESS_ID, ParamType.LLONG, pid))
        started = process_start_time(pid)
        if started is not None:
            params.append(TypedParam(PROCESS_TIME, ParamType.ULLONG, started))
        return cls(tuple(params))

    @classmethod
    def of_certificate(cls, dn: str) -> Identity:
        """What libvirtd makes of a TLS client: its certificate's DN."""
        return cls((TypedParam(X509_DNAME, ParamType.STRING, dn),))

    def get(self, key: str) -> int | float | bool | str | None:
        param = first(self.params, key)
        return None if param is None else param.value

    def describe(self) -> str:
        """``key=value`` for each parameter, for log lines."""
        return " ".join(f"{p.field}={p.value}" for p in self.params)


def _user_name(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _group_name(gid: int) -> str | None:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


def process_start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``/proc/PID/stat``'s
    22nd field, as libvirt reads it); None if that process is not visible."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count from its end
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Peer:
    """What the daemon learns of a client from its transport."""

    transport: Transport
    #: for log lines: ``unix pid=… uid=… gid=…`` or the address
    description: str
    #: libvirt's form of the peer's address (``sock_addr``): ``HOST:PORT``,
    #: ``[V6]:PORT``, and ``127.0.0.1:0`` for a UNIX socket
    address: str
    #: a UNIX peer's (pid, uid, gid)
    credentials: tuple[int, int, int] | None = None
    #: a TLS peer's certificate (DER), read for its DN only when needed
    certificate: bytes | None = None

    @property
    def uid(self) -> int | None:
        return None if self.credentials is None else self.credentials[1]

    def identity(self) -> Identity:
        """libvirtd's identity of this peer (its user and group names are
        looked up now: a client's identity is made when first needed)."""
        if self.credentials is not None:
            pid, uid, gid = self.credentials
            return Identity.of_unix_peer(uid, gid, pid)
        if self.certificate is not None:
            return Identity.of_certificate(
                certificate_dn(x509.load_der_x509_certificate(self.certificate)))
        return Identity()


def peer_of(transport: asyncio.BaseTransport) -> Peer:
    """Who is at the other end of ``transport`` (a UNIX socket, TCP or TLS)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family == socket.AF_UNIX:
        try:
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                    struct.calcsize("3i"))
        except OSError:
            return Peer(Transport.UNIX, "unix ?", "127.0.0.1:0")
        pid, uid, gid = struct.unpack("3i", creds)
        return Peer(Transport.UNIX, f"unix pid={pid} uid={uid} gid={gid}", "127.0.0.1:0",
                    credentials=(pid, uid, gid))
    address = _address(transport.get_extra_info("peername"))
    ssl_object = transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if der:
        return Peer(Transport.TLS, address, address, certificate=der)
    return Peer(Transport.TLS if ssl_object is not None else Transport.TCP, address, address)


def _address(peername: Any) -> str:
    if not isinstance(peername, tuple) or len(peername) < 2:
        return "?"
    return describe_address(peername)
