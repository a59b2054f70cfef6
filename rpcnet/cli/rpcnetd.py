"""``rpcnetd``: the daemon entry point (runs in the foreground)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rpcnet.driver.base import NetworkDriver
from rpcnet.driver.host.tools import Tools
from rpcnet.protocol.message import MAX_MESSAGE
from rpcnet.server.config import SOCKET_NAME, ServerConfig
from rpcnet.server.daemon import Server, serve_until_signalled
from rpcnet.server.tls import ServerCredentials, TlsListenerConfig, parse_listen_address

if TYPE_CHECKING:
    from rpcnet.server.metrics import MetricsEndpoint

DEFAULT_SOCKET_DIR = Path("/run/rpcnet")
DEFAULT_HOST_STATE_DIR = Path("/var/lib/rpcnet")


def _socket_name(text: str) -> str:
    if not text or "/" in text or "\0" in text:
        raise argparse.ArgumentTypeError(f"not a socket name: {text!r}")
    return text


def _octal(text: str) -> int:
    return int(text, 8)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="rpcnetd", description="libvirt-compatible virtual network daemon")
    parser.add_argument("--socket-dir", type=Path, default=DEFAULT_SOCKET_DIR,
                        help="directory of the sockets (default %(default)s)")
    parser.add_argument("--socket-name", default=SOCKET_NAME, type=_socket_name,
                        help="the sockets are NAME-sock and NAME-sock-ro (default %(default)s); "
                             "'--socket-dir /run/libvirt --socket-name virtnetworkd' serves "
                             "clients opening network:///system with no socket parameter")
    parser.add_argument("--driver", choices=["memory", "host"], default="memory",
                        help="network backend: memory, or host (real bridges, nftables and "
                             "dnsmasq in this network namespace) (default %(default)s)")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="persist networks, autostart flags and running state here")
    parser.add_argument("--dnsmasq", default="dnsmasq",
                        help="dnsmasq binary of the host driver (default: found on PATH)")
    parser.add_argument("--nft", default="nft",
                        help="nft binary of the host driver (default: found on PATH)")
    parser.add_argument("--socket-group", default=None, help="group owning the sockets")
    parser.add_argument("--socket-mode", type=_octal, default=0o600, metavar="MODE",
                        help="mode of the read-write socket (default 0600)")
    parser.add_argument("--socket-mode-ro", type=_octal, default=0o666, metavar="MODE",
                        help="mode of the read-only socket (default 0666)")
    parser.add_argument("--max-clients", type=int, default=5000)
    parser.add_argument("--max-message-size", type=int, default=MAX_MESSAGE, metavar="BYTES",
                        help="largest message (header and payload) accepted (default 32 MiB)")
    parser.add_argument("--max-anonymous-clients", type=int, default=20,
                        help="TLS clients still in their handshake (default %(default)s)")
    parser.add_argument("--max-client-requests", type=int, default=5,
                        help="calls of one client run at once (default %(default)s)")
    parser.add_argument("--keepalive-interval", type=float, default=5.0,
                        help="seconds of silence before a PING; 0 disables (default 5)")
    parser.add_argument("--keepalive-count", type=int, default=5)
    tls = parser.add_argument_group("TLS (libvirt's network+tls:// transport)")
    tls.add_argument("--tls", metavar="ADDR[:PORT]", action="append", default=[],
                     type=_listen_address,
                     help="listen for TLS clients (repeatable; port 16514 by default; "
                          "IPv6 as [ADDR]:PORT)")
    tls.add_argument("--pki", metavar="DIR", type=Path, default=None,
                     help="read cacert.pem, cacrl.pem (optional), servercert.pem and "
                          "serverkey.pem from DIR (default: libvirt's /etc/pki paths)")
    tls.add_argument("--tls-allowed-dn", metavar="PATTERN", action="append", default=None,
                     help="allow only client certificates whose DN (as `rpcnet pki dn` "
                          "prints it) matches this glob (repeatable; default: any DN)")
    tls.add_argument("--tls-handshake-timeout", metavar="SECONDS", type=float, default=10.0)
    parser.add_argument("--metrics", metavar="ADDR:PORT", type=_metrics_address, default=None,
                        help="serve Prometheus metrics over HTTP on ADDR:PORT (e.g. "
                             "127.0.0.1:9177; IPv6 as [ADDR]:PORT); needs prometheus-client "
                             "(pip install 'rpcnet[metrics]') (default: off)")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    return parser.parse_args(argv)


def _metrics_address(text: str) -> tuple[str, int]:
    try:
        from rpcnet.server.metrics import parse_metrics_address
    except ImportError:
        raise argparse.ArgumentTypeError(
            "needs prometheus-client: pip install 'rpcnet[metrics]'") from None
    try:
        return parse_metrics_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _listen_address(text: str) -> tuple[str, int]:
    try:
        return parse_listen_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def tls_listeners(args: argparse.Namespace) -> list[TlsListenerConfig]:
    """One TlsListenerConfig per ``--tls`` option."""
    creds = ServerCredentials.from_dir(args.pki)
    return [TlsListenerConfig(host=host, port=port, credentials=creds,
                              allowed_dns=args.tls_allowed_dn,
                              handshake_timeout=args.tls_handshake_timeout)
            for host, port in args.tls]


async def build_drivers(
    config: ServerConfig, tools: Tools | None = None
) -> dict[str, NetworkDriver]:
    """The drivers the daemon serves: ``network`` (the bridge driver's policy
    with the configured backend) and ``test`` (test:///default's policy, in
    memory). Each keeps its state under ``state_dir`` when one is configured."""
    from rpcnet.driver.service import open_memory

    network_state = config.state_dir / "network" if config.state_dir else None
    test_state = config.state_dir / "test" if config.state_dir else None
    network: NetworkDriver
    if config.driver == "host":
        from rpcnet.driver.host.backend import open_host

        network = await open_host(network_state or DEFAULT_HOST_STATE_DIR / "network", tools)
    else:
        network = await open_memory("network", network_state)
    return {"network": network, "test": await open_memory("test", test_state)}


async def run(config: ServerConfig, tls: Sequence[TlsListenerConfig] = (),
              tools: Tools | None = None, metrics: tuple[str, int] | None = None) -> None:
    # bound first: a metrics address that cannot be served stops the start
    # before any network is touched
    endpoint = _start_metrics(*metrics) if metrics is not None else None
    try:
        server = Server(config, await build_drivers(config, tools))
        if endpoint is not None:
            endpoint.metrics.attach(server)
        try:
            for listener in tls:
                await server.listen_tls(listener)
        except BaseException:
            await server.stop()
            raise
        await serve_until_signalled(server)
    finally:
        if endpoint is not None:
            await endpoint.stop()


def _start_metrics(host: str, port: int) -> MetricsEndpoint:
    from rpcnet.server.metrics import MetricsEndpoint

    endpoint = MetricsEndpoint(host, port)
    endpoint.start()
    return endpoint


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s rpcnetd %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    config = ServerConfig(
        socket_dir=args.socket_dir,
        socket_name=args.socket_name,
        state_dir=args.state_dir,
        driver=args.driver,
        socket_group=args.socket_group,
        rw_socket_mode=args.socket_mode,
        ro_socket_mode=args.socket_mode_ro,
        max_message=args.max_message_size,
        max_clients=args.max_clients,
        max_anonymous_clients=args.max_anonymous_clients,
        max_client_requests=args.max_client_requests,
        keepalive_interval=args.keepalive_interval,
        keepalive_count=args.keepalive_count,
    )
    tls = tls_listeners(args)
    tools = Tools(dnsmasq=args.dnsmasq, nft=args.nft)
    try:
        try:
            import uvloop
        except ImportError:
            asyncio.run(run(config, tls, tools, args.metrics))
        else:
            uvloop.run(run(config, tls, tools, args.metrics))
    except (OSError, ssl.SSLError) as exc:
        logging.getLogger("rpcnet.server").error("cannot start: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
