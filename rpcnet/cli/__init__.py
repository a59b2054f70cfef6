"""rpcnet.cli."""
