"""rpcnet: libvirt remote RPC for virtual networks."""

__version__ = "0.1.0"
