"""A libvirt Python bindings client the test steers line by line (run under
/usr/bin/python3, which has Debian's python3-libvirt).

argv: URI [--event-loop]. With --event-loop libvirt's default event loop
runs on a thread (keepalive, events and close callbacks need it). Prints
{"opened": true} once connected, then reads one JSON command per line and
prints one JSON answer per line: {"result": ..., "elapsed": s} or
{"error": [code, domain, message], "elapsed": s}.
"""

import json
import sys
import threading
import time

import libvirt

uri = sys.argv[1]
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
if "--event-loop" in sys.argv:
    libvirt.virEventRegisterDefaultImpl()

    def run_loop():
        while True:
            libvirt.virEventRunDefaultImpl()

    threading.Thread(target=run_loop, daemon=True).start()

conn = libvirt.open(uri)
changed = threading.Condition()
events = []
closed = []


def on_close(_conn, reason, _opaque):
    with changed:
        closed.append([reason, time.monotonic()])
        changed.notify_all()


def on_event(_conn, net, event, detail, opaque):
    with changed:
        events.append([opaque, net.name(), event, detail])
        changed.notify_all()


def wait_for(predicate, timeout):
    with changed:
        return changed.wait_for(predicate, timeout)


def net(name):
    return conn.networkLookupByName(name)


def wait_close(timeout):
    start = time.monotonic()
    if not wait_for(lambda: closed, timeout):
        return None
    reason, when = closed[0]
    return {"reason": reason, "after": when - start}


COMMANDS = {
    "lookup": lambda name: net(name).name(),
    "xml": lambda name: net(name).XMLDesc(0),
    "list": lambda: sorted(n.name() for n in conn.listAllNetworks(0)),
    "alive": lambda: conn.isAlive(),
    "keepalive": lambda interval, count: conn.setKeepAlive(interval, count),
    "watch_close": lambda: conn.registerCloseCallback(on_close, None),
    "wait_close": wait_close,
    "register": lambda name, tag: conn.networkEventRegisterAny(
        net(name) if name else None, libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE, on_event, tag),
    "deregister": lambda callback: conn.networkEventDeregisterAny(callback),
    "events": lambda count, timeout: (wait_for(lambda: len(events) >= count, timeout),
                                      list(events))[1],
    "port_create": lambda name, xml, flags: net(name).portCreateXML(xml, flags).UUIDString(),
    "define": lambda xml: conn.networkDefineXML(xml).name(),
}

print(json.dumps({"opened": True}), flush=True)
for line in sys.stdin:
    command, *args = json.loads(line)
    start = time.monotonic()
    try:
        answer = {"result": COMMANDS[command](*args)}
    except libvirt.libvirtError as exc:
        answer = {"error": [exc.get_error_code(), exc.get_error_domain(),
                            exc.get_error_message()]}
    answer["elapsed"] = time.monotonic() - start
    print(json.dumps(answer), flush=True)
