"""What the binding scripts here share: each step's result, or the libvirt
error it raised as ["error", code, domain, message] (imported from the
script's own directory, under /usr/bin/python3)."""

import libvirt

results = {}


def step(name, fn):
    try:
        results[name] = fn()
    except libvirt.libvirtError as e:
        results[name] = ["error", e.get_error_code(), e.get_error_domain(), str(e)]
