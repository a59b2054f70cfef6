"""Lifecycle events and keepalive through the libvirt Python bindings (argv[1] = URI)."""

import json
import sys
import threading
import time

import libvirt

libvirt.virEventRegisterDefaultImpl()


def loop():
    while True:
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=loop, daemon=True).start()

conn = libvirt.open(sys.argv[1])
conn.setKeepAlive(1, 3)
closed = []
conn.registerCloseCallback(lambda c, reason, opaque: closed.append(reason), None)
events = []


def on_event(c, net, event, detail, opaque):
    events.append([opaque, net.name(), event, detail])


all_id = conn.networkEventRegisterAny(None, libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE, on_event, "all")
XML = ("<network><name>pyev</name><bridge name='virbr93'/>"
       "<ip address='10.93.0.1' netmask='255.255.255.0'/></network>")
net = conn.networkDefineXML(XML)
one_id = conn.networkEventRegisterAny(net, libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE, on_event, "one")
net.create()
net.destroy()
net.undefine()
time.sleep(1.0)
idle_start = time.time()
time.sleep(3.5)  # idle: only keepalive traffic; the connection must stay up
alive = conn.isAlive()
conn.networkEventDeregisterAny(one_id)
conn.networkEventDeregisterAny(all_id)
conn.unregisterCloseCallback()
conn.close()
print(json.dumps({"events": events, "alive": alive, "closed": closed}))
