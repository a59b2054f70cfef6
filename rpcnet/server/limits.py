"""A server's client limits: read and changed live (the admin program's
SERVER_GET/SET_CLIENT_LIMITS), checked whenever a client comes in."""

from __future__ import annotations

from dataclasses import dataclass

from rpcnet.errors import ErrorCode, rpc_error


@dataclass(slots=True)
class ClientLimits:
    """``max_clients`` and ``max_anonymous_clients`` of one server, and its
    clients still in their transport's handshake."""

    #: clients served at once; one more is refused
    max_clients: int
    #: clients still in their transport's handshake (TLS); 0: no limit, as in libvirt
    max_unauth: int
    #: clients in their handshake now, on every listener of the server
    unauth: int = 0

    def refusal(self, clients: int) -> str | None:
        """Why a new client is refused when ``clients`` are served, or None."""
        if clients >= self.max_clients:
            return f"Too many active clients ({self.max_clients}), dropping connection"
        return None

    def handshake_allowed(self) -> bool:
        """May another client start its handshake now?"""
        return not self.max_unauth or self.unauth < self.max_unauth

    def change(self, max_clients: int | None, max_unauth: int | None) -> None:
        """Set either limit (None keeps it); raises VirError, changing
        nothing, if the maximum would fall below the unauthenticated one."""
        new_max = self.max_clients if max_clients is None else max_clients
        new_unauth = self.max_unauth if max_unauth is None else max_unauth
        if new_max < new_unauth:
            raise rpc_error("The overall maximum number of clients waiting for authentication "
                            "must not be less than the overall maximum number of clients",
                            ErrorCode.INVALID_ARG)
        self.max_clients, self.max_unauth = new_max, new_unauth
