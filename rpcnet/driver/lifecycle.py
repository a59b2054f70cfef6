"""The service's bookkeeping around its backend and store: start with
rollback, what running and stopped mean for a network object, and what a
daemon start does (restore, reconcile, autostart).

Callers hold the service's lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from rpcnet.errors import VirError
from rpcnet.netxml import NetworkDef

from .backend import Backend
from .netobj import NetObj, NetTable
from .ports.usage import Usage
from .restore import restore
from .store import Snapshot, Store

log = logging.getLogger(__name__)

#: The definition a network runs as (see ``definitions.running_form``).
Runnable = Callable[[NetObj | None, NetworkDef], NetworkDef]


class Lifecycle:
    """Starts and stops networks through a backend, saving to a store."""

    def __init__(self, backend: Backend, store: Store, nets: NetTable) -> None:
        self._backend = backend
        self._store = store
        self._nets = nets

    async def start(self, netdef: NetworkDef, xml: str) -> None:
        """Activate ``netdef`` and save its status (``xml``); undo the
        activation if saving fails."""
        await self._backend.activate(netdef)
        try:
            await self._store.write_status(netdef.name, xml)
        except BaseException:
            await self._backend.deactivate(netdef)
            raise

    @staticmethod
    def mark_running(obj: NetObj, live: NetworkDef) -> None:
        """``obj`` now runs ``live``, with no connections counted yet."""
        obj.live = live
        obj.usage = Usage()

    def restore(self, snap: Snapshot) -> None:
        restore(self._nets, snap)

    async def reconcile(self) -> None:
        """Ask the backend which of the networks believed running are gone;
        forget those (status, ports, and a transient network altogether)."""
        running = {obj.name: obj.live for obj in self._nets if obj.live is not None}
        for name in await self._backend.reconcile(running):
            obj = self._nets.by_name.get(name)
            if obj is not None and obj.live is not None:
                await self.mark_stopped(obj)

    async def mark_stopped(self, obj: NetObj) -> None:
        """``obj`` no longer runs (destroyed, or its bridge is gone): drop its
        status and ports, and a transient network altogether."""
        await self._store.delete_status(obj.name)
        obj.live = None
        obj.ports.clear()
        if obj.config is None:
            self._nets.remove(obj)

    async def autostart(self, runnable: Runnable) -> None:
        """Start each persistent autostart network that does not run; a
        failure is logged and the others still start."""
        for obj in list(self._nets):
            if obj.config is None or not obj.autostart or obj.live is not None:
                continue
            try:
                live = runnable(obj, obj.config)
                await self.start(live, obj.xml(live))
            except VirError as exc:
                log.error("cannot autostart network %s: %s", obj.name, exc.message)
                continue
            self.mark_running(obj, live)
