"""``rpcnetd``: the daemon entry point (runs in the foreground)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from rpcnet.driver.base import NetworkDriver
from rpcnet.server.config import ServerConfig
from rpcnet.server.daemon import Server, serve_until_signalled

DEFAULT_SOCKET_DIR = Path("/run/rpcnet")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="rpcnetd", description="libvirt-compatible virtual network daemon")
    parser.add_argument("--socket-dir", type=Path, default=DEFAULT_SOCKET_DIR,
                        help="directory for rpcnet-sock and rpcnet-sock-ro (default %(default)s)")
    parser.add_argument("--driver", choices=["memory"], default="memory",
                        help="network backend (default %(default)s)")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="persist networks, autostart flags and running state here")
    parser.add_argument("--socket-group", default=None, help="group owning the sockets")
    parser.add_argument("--max-clients", type=int, default=5000)
    parser.add_argument("--max-anonymous-clients", type=int, default=20,
                        help="clients connected but not yet opened (default %(default)s)")
    parser.add_argument("--max-client-requests", type=int, default=5,
                        help="calls of one client run at once (default %(default)s)")
    parser.add_argument("--keepalive-interval", type=float, default=5.0,
                        help="seconds of silence before a PING; 0 disables (default 5)")
    parser.add_argument("--keepalive-count", type=int, default=5)
    parser.add_argument("-v", "--verbose", action="count", default=0)
    return parser.parse_args(argv)


async def build_drivers(config: ServerConfig) -> dict[str, NetworkDriver]:
    """The drivers the daemon serves: ``network`` (configured) and ``test``."""
    from rpcnet.driver.memory import MemoryDriver

    network_state = config.state_dir / "network" if config.state_dir else None
    test_state = config.state_dir / "test" if config.state_dir else None
    return {
        "network": await MemoryDriver.open("network", network_state),
        "test": await MemoryDriver.open("test", test_state),
    }


async def run(config: ServerConfig) -> None:
    server = Server(config, await build_drivers(config))
    await serve_until_signalled(server)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s rpcnetd %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    config = ServerConfig(
        socket_dir=args.socket_dir,
        state_dir=args.state_dir,
        driver=args.driver,
        socket_group=args.socket_group,
        max_clients=args.max_clients,
        max_anonymous_clients=args.max_anonymous_clients,
        max_client_requests=args.max_client_requests,
        keepalive_interval=args.keepalive_interval,
        keepalive_count=args.keepalive_count,
    )
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(config))
    else:
        uvloop.run(run(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
