"""16 threads sharing one libvirt connection (argv[1]): the C client multiplexes
their calls, so replies come back for several serials at once."""

import sys
import threading

import libvirt

conn = libvirt.open(sys.argv[1])
errors = []


def work():
    try:
        for _ in range(500):
            net = conn.networkLookupByName("default")
            assert net.isActive() == 1 and net.bridgeName() == "virbr0"
    except Exception as exc:
        errors.append(repr(exc))


threads = [threading.Thread(target=work) for _ in range(16)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
conn.close()
print("errors:", len(errors), errors[:3])
