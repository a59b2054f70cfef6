"""rpcnet.server."""
