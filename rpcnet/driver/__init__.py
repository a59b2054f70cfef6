"""The network driver vtable and its implementations."""
