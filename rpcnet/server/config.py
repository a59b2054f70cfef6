"""Daemon configuration: where to listen and the limits libvirtd also has."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rpcnet.protocol.message import MAX_MESSAGE

SOCKET_NAME = "rpcnet"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    socket_dir: Path
    #: the sockets are NAME-sock and NAME-sock-ro, as libvirt's daemons name theirs
    socket_name: str = SOCKET_NAME
    state_dir: Path | None = None
    driver: str = "memory"
    rw_socket_mode: int = 0o600
    ro_socket_mode: int = 0o666
    admin_socket_mode: int = 0o600
    socket_group: str | None = None
    #: listen backlog of the sockets rpcnetd creates itself (libvirt's max_queued_clients)
    max_queued_clients: int = 1024
    #: concurrent calls per client before the daemon stops reading from it
    max_client_requests: int = 5
    max_clients: int = 5000
    #: clients not yet past their transport's handshake (TLS); with auth "none"
    #: a UNIX client is authenticated on connect, as in libvirtd
    max_anonymous_clients: int = 20
    #: seconds a refused client gets to read why before it is dropped
    refusal_grace: float = 2.0
    max_message: int = MAX_MESSAGE
    keepalive_interval: float = 5.0
    keepalive_count: int = 5
    #: bytes queued towards a client that does not read before it is dropped
    max_client_backlog: int = 64 * 1024 * 1024
    #: seconds with no client before the daemon exits (``--timeout``); 0 never
    idle_timeout: float = 0.0
    # the admin program's own limits (libvirtd.conf's admin_*; libvirt's defaults)
    admin_max_clients: int = 5000
    admin_max_queued_clients: int = 20
    admin_max_client_requests: int = 5
    admin_keepalive_interval: float = 5.0
    admin_keepalive_count: int = 5

    @property
    def rw_socket(self) -> Path:
        return self.socket_dir / f"{self.socket_name}-sock"

    @property
    def ro_socket(self) -> Path:
        return self.socket_dir / f"{self.socket_name}-sock-ro"

    @property
    def admin_socket(self) -> Path:
        return self.socket_dir / f"{self.socket_name}-admin-sock"


def privileged() -> bool:
    return os.geteuid() == 0
