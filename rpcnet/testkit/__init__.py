"""The test kit for libvirt client authors: rpcnetd in the test's process,
faults on command and a record of every call.

``rpcnet.testing`` (the pytest plugin) hands these out as fixtures; outside
pytest, :class:`InProcessDaemon` is a context manager::

    with InProcessDaemon() as daemon:
        daemon.faults.error("NETWORK_LOOKUP_BY_NAME", 43, "Network not found: x")
        ...  # run the client against daemon.uri()
        assert daemon.calls.names()[-1] == "CONNECT_CLOSE"

Nothing here is imported by rpcnetd: a daemon started without the kit has
no fault plan and no way to be given one. The names below load on first
use, so that the pytest plugin (loaded by every pytest run) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rpcnet.testkit import frames
    from rpcnet.testkit.control import Faults
    from rpcnet.testkit.daemon import ClientInfo, InProcessDaemon
    from rpcnet.testkit.faults import Fault
    from rpcnet.testkit.process import RpcnetdServer
    from rpcnet.testkit.record import CallLog, CallRecord

__all__ = ["CallLog", "CallRecord", "ClientInfo", "Fault", "Faults", "InProcessDaemon",
           "RpcnetdServer", "frames"]

_WHERE = {
    "CallLog": "record", "CallRecord": "record", "ClientInfo": "daemon", "Fault": "faults",
    "Faults": "control", "InProcessDaemon": "daemon", "RpcnetdServer": "process",
}


def __getattr__(name: str) -> Any:
    if name == "frames":
        return importlib.import_module("rpcnet.testkit.frames")
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'rpcnet.testkit' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rpcnet.testkit.{module}"), name)
