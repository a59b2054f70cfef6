"""systemd socket activation: the listening sockets a service manager passed in.

The protocol (sd_listen_fds(3)): ``LISTEN_PID`` is our pid, ``LISTEN_FDS``
descriptors start at 3, and ``LISTEN_FDNAMES`` names each one, colon
separated (a socket unit's name unless it sets ``FileDescriptorName=``).
As libvirt's daemons do, rpcnetd requires the names and places every
descriptor by its name; one it cannot place is an error at start, and a
role no descriptor is named for is not served at all (a unit can leave a
socket out). The names rpcnetd places are those of its own units and of
virtnetworkd's and libvirtd's, so their socket units can start it:

==========================  =======================================
``NAME.socket``             read-write (``NAME-sock``)
``NAME-ro.socket``          read-only (``NAME-sock-ro``)
``NAME-admin.socket``       the admin program (``NAME-admin-sock``)
``NAME-tls.socket``         TLS (rpcnetd and libvirtd; virtnetworkd has none)
==========================  =======================================

for NAME ``rpcnetd``, ``virtnetworkd`` or ``libvirtd``. The variables are
removed from the environment once read, so no child sees them.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Activation", "ActivationError", "Role", "from_environment", "role_of"]

LISTEN_FDS_START = 3
DAEMON_NAMES = ("rpcnetd", "virtnetworkd", "libvirtd")
_ENV = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


class Role(StrEnum):
    """What a listening socket serves."""

    RW = "rw"
    RO = "ro"
    ADMIN = "admin"
    TLS = "tls"


_SUFFIXES = {".socket": Role.RW, "-ro.socket": Role.RO, "-admin.socket": Role.ADMIN,
             "-tls.socket": Role.TLS}
_NAMES = {f"{daemon}{suffix}": role for daemon in DAEMON_NAMES
          for suffix, role in _SUFFIXES.items()
          if not (daemon == "virtnetworkd" and role is Role.TLS)}
_FAMILIES = {Role.RW: (socket.AF_UNIX,), Role.RO: (socket.AF_UNIX,),
             Role.ADMIN: (socket.AF_UNIX,), Role.TLS: (socket.AF_INET, socket.AF_INET6)}


class ActivationError(ValueError):
    """The passed descriptors cannot be served; the daemon must not start."""


@dataclass(slots=True)
class Activation:
    """The passed sockets by role, with the name each came under."""

    sockets: dict[Role, list[socket.socket]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)

    def close(self) -> None:
        for socks in self.sockets.values():
            for sock in socks:
                sock.close()


def role_of(name: str) -> Role:
    """The role of a descriptor name; raises ActivationError for one rpcnetd
    does not serve."""
    role = _NAMES.get(name)
    if role is not None:
        return role
    if name.endswith("-tcp.socket"):
        raise ActivationError(f"socket activation: '{name}' is libvirt's unencrypted TCP "
                              f"transport, which rpcnetd does not serve")
    raise ActivationError(f"socket activation: rpcnetd does not serve a socket named "
                          f"'{name}' (it serves {', '.join(sorted(_NAMES))})")


def passed_names(environ: Mapping[str, str], pid: int) -> list[str] | None:
    """The name of each descriptor passed to ``pid``, or None when nothing
    was passed to it; raises ActivationError when descriptors come unnamed."""
    listen_pid, listen_fds = environ.get("LISTEN_PID"), environ.get("LISTEN_FDS")
    if listen_pid is None or listen_fds is None or not listen_pid.isdigit() \
            or int(listen_pid) != pid or not listen_fds.isdigit() or int(listen_fds) == 0:
        return None  # as libvirt: not for us, or malformed
    count = int(listen_fds)
    names = environ.get("LISTEN_FDNAMES")
    if names is None:
        raise ActivationError("Missing LISTEN_FDNAMES env from systemd socket activation")
    split = names.split(":")
    if len(split) != count:
        raise ActivationError(f"Expecting {count} FD names but got {len(split)}")
    return split


def claim(names: list[str], first_fd: int = LISTEN_FDS_START) -> Activation:
    """Take the descriptors ``first_fd``... (one per name) as listening
    sockets, by role; raises ActivationError (having closed them all) if
    one is unknown or not a listening socket of the kind its role needs."""
    activation = Activation()
    fds = range(first_fd, first_fd + len(names))
    try:
        for fd, name in zip(fds, names, strict=True):
            role = role_of(name)
            sock = _listening_socket(fd, name, role)
            activation.sockets.setdefault(role, []).append(sock)
            activation.names[sock.fileno()] = name
    except BaseException:
        activation.close()
        for fd in fds:
            if fd not in activation.names:
                _close_quietly(fd)
        raise
    return activation


def _listening_socket(fd: int, name: str, role: Role) -> socket.socket:
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise ActivationError(f"socket activation: descriptor {fd} ('{name}') is not a "
                              f"socket: {exc.strerror}") from None
    os.set_inheritable(fd, False)
    listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    if sock.type != socket.SOCK_STREAM or not listening or sock.family not in _FAMILIES[role]:
        sock.detach()
        raise ActivationError(f"socket activation: descriptor {fd} ('{name}') is not a "
                              f"listening {'UNIX' if role is not Role.TLS else 'TCP'} "
                              f"stream socket")
    sock.setblocking(False)
    return sock


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def from_environment(environ: MutableMapping[str, str] | None = None,
                     pid: int | None = None) -> Activation | None:
    """The sockets systemd (or ``systemd-socket-activate``) passed in, or None
    when the daemon was started without any; removes the variables from
    ``environ`` (default: this process's); raises ActivationError."""
    environ = os.environ if environ is None else environ
    try:
        names = passed_names(environ, os.getpid() if pid is None else pid)
    finally:
        for variable in _ENV:
            environ.pop(variable, None)
    return None if names is None else claim(names)
