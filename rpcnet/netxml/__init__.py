"""rpcnet.netxml."""
