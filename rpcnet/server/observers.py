"""Call observers: the one seam through which anything watches every call.

Metrics and the test kit's record of calls both hear of each call a client
makes, at the moment it is answered (:class:`~rpcnet.protocol.connection.
CallObserver`). The daemon keeps a list of factories; each session asks
every factory for an observer of its own connection (a factory may return
None to skip a session) and installs them on its sans-IO connection. With no
factory the connection's observer stays None, which costs a call nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rpcnet.errors import VirError
from rpcnet.protocol.connection import CallObserver
from rpcnet.protocol.message import Header
from rpcnet.protocol.program import Procedure

if TYPE_CHECKING:
    from rpcnet.server.rpcprotocol import RpcProtocol

#: makes the observer of one client's connection (None: not this one)
ObserverFactory = Callable[["RpcProtocol"], CallObserver | None]


class FanOut:
    """Several observers of one connection, told in order."""

    __slots__ = ("observers",)

    def __init__(self, observers: Sequence[CallObserver]) -> None:
        self.observers = tuple(observers)

    def call_answered(self, header: Header, procedure: Procedure | None,
                      args: tuple[Any, ...] | None, received: float,
                      result: Any, error: VirError | None) -> None:
        for observer in self.observers:
            observer.call_answered(header, procedure, args, received, result, error)


def observer_for(client: RpcProtocol, factories: Sequence[ObserverFactory]) -> CallObserver | None:
    """What observes ``client``'s calls: None, one observer, or a fan-out."""
    observers = [o for o in (factory(client) for factory in factories) if o is not None]
    if not observers:
        return None
    return observers[0] if len(observers) == 1 else FanOut(observers)
