"""Sans-IO implementation of libvirt's remote RPC protocol (no sockets, no asyncio)."""
