"""Generic mapping from a decoded call to a driver method and back.

The dispatcher knows no individual procedure: the table's
:class:`~rpcnet.protocol.program.CallStyle` says how the XDR fields line up
with the driver method's parameters and result.
"""

from __future__ import annotations

from typing import Any

from rpcnet.driver.base import NetworkDriver
from rpcnet.protocol.program import CallStyle, Procedure
from rpcnet.protocol.xdr import VOID


async def call_driver(proc: Procedure, driver: NetworkDriver, args: tuple[Any, ...]) -> Any:
    """Run ``proc`` on ``driver``; returns the value to encode as its reply."""
    assert proc.method is not None
    method = getattr(driver, proc.method)
    style = proc.style
    if style is CallStyle.PLAIN:
        result = await method(*args)
        return None if proc.ret is VOID else (result,)
    if style is CallStyle.LIST_ALL:
        items = await method(*args[:-2], args[-1])
        return (items if args[-2] else [], len(items))
    if style is CallStyle.GET_PARAMETERS:
        port, _garbage_nparams, flags = args
        return (await method(port, flags), 0)
    raise AssertionError(f"{proc.name} is not a driver call")
