"""The host backend: real bridges, nftables rules and dnsmasq on Linux.

``backend.HostBackend`` is the entry point; ``tools.Tools`` names the helper
programs. Nothing is imported here, so naming a tool does not load pyroute2.
"""
