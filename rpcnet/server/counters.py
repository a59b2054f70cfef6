"""What the daemon counts besides calls: plain integers bumped where a thing
happens (none of them on the per-call path), read by the metrics endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class DaemonCounters:
    """Counts since the daemon started."""

    #: event messages (network lifecycle) queued to clients
    events_delivered: int = 0
    #: clients dropped because they stopped answering keepalive PINGs
    keepalive_drops: int = 0
    #: client connections accepted, by transport (``unix``, ``tls``)
    connections: dict[str, int] = field(default_factory=dict)
    #: clients turned away by a limit, by the limit's name
    #: (``max_clients``, ``max_anonymous_clients``)
    refused: dict[str, int] = field(default_factory=dict)
    #: TLS clients that did not get through, by why (``handshake``: the TLS
    #: handshake failed; ``no_certificate``; ``dn_not_allowed``)
    tls_failures: dict[str, int] = field(default_factory=dict)

    def connected(self, transport: str) -> None:
        self.connections[transport] = self.connections.get(transport, 0) + 1

    def refuse(self, limit: str) -> None:
        self.refused[limit] = self.refused.get(limit, 0) + 1

    def tls_failure(self, reason: str) -> None:
        self.tls_failures[reason] = self.tls_failures.get(reason, 0) + 1

    def copy(self) -> DaemonCounters:
        """A snapshot (the metrics endpoint reads it from another thread)."""
        return DaemonCounters(self.events_delivered, self.keepalive_drops,
                              dict(self.connections), dict(self.refused),
                              dict(self.tls_failures))
