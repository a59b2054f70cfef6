"""rpcnet.client."""
