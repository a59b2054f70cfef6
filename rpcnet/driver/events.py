"""Lifecycle-event callback registry shared by every connection of a driver.

Callback ids come from one counter per registry, starting at 0, as libvirt
9.0's daemon hands them out across all its clients. Delivery is synchronous;
a callback that raises is logged and the others still run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from rpcnet.errors import ErrorCode, general_error, network_error
from rpcnet.protocol.values import NetworkRef

from .base import EventId, LifecycleCallback

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Registration:
    event_id: int
    uuid: bytes | None  # only events of this network; None: all networks
    callback: LifecycleCallback


class EventRegistry:
    """Registered lifecycle callbacks, keyed by callback id."""

    def __init__(self) -> None:
        self._next_id = 0
        self._callbacks: dict[int, _Registration] = {}

    def __len__(self) -> int:
        return len(self._callbacks)

    def register(self, event_id: int, net: NetworkRef | None, callback: LifecycleCallback) -> int:
        """Add ``callback``; returns its id. Raises INVALID_ARG for an unknown
        event id, worded as libvirt's public API does."""
        if event_id < 0 or event_id > max(EventId):
            raise network_error(
                ErrorCode.INVALID_ARG,
                "eventID in virConnectNetworkEventRegisterAny must be less than "
                f"{max(EventId) + 1}",
            )
        callback_id = self._next_id
        self._next_id += 1
        uuid = net.uuid if net is not None else None
        self._callbacks[callback_id] = _Registration(event_id, uuid, callback)
        return callback_id

    def deregister(self, callback_id: int) -> None:
        """Remove a callback; an unknown id raises libvirt's object_event.c error."""
        if self._callbacks.pop(callback_id, None) is None:
            raise general_error(
                ErrorCode.INVALID_ARG, f"could not find event callback {callback_id} for deletion"
            )

    def emit(self, net: NetworkRef, event: int, detail: int = 0) -> None:
        """Deliver a lifecycle event to every matching callback, now."""
        # Copy: a callback may deregister itself (or others) while we iterate.
        for callback_id, reg in list(self._callbacks.items()):
            if reg.event_id != EventId.LIFECYCLE:
                continue
            if reg.uuid is not None and reg.uuid != net.uuid:
                continue
            try:
                reg.callback(callback_id, net, event, detail)
            except Exception:
                log.exception("network event callback %d failed", callback_id)
