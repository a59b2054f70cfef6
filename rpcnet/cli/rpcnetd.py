"""``rpcnetd``: the daemon entry point (runs in the foreground)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rpcnet.cli import run_coroutine
from rpcnet.cli.daemon_conf import load_daemon_conf
from rpcnet.driver.base import NetworkDriver
from rpcnet.driver.host.tools import Tools
from rpcnet.driver.store import lock_directory
from rpcnet.libvirtconf import ConfError, ConfSyntaxError
from rpcnet.protocol.message import MAX_MESSAGE
from rpcnet.server import logsetup
from rpcnet.server.activation import Activation, ActivationError
from rpcnet.server.activation import from_environment as activation_from_environment
from rpcnet.server.admin_session import serve_admin
from rpcnet.server.config import SOCKET_NAME, ServerConfig
from rpcnet.server.daemon import Server, serve_until_signalled
from rpcnet.server.notify import Notifier
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rpcnetd", description="libvirt-compatible virtual network daemon",
        epilog="'rpcnetd import-libvirt [DIR]' takes over libvirt's networks "
               "(see 'rpcnetd import-libvirt --help').")
    parser.add_argument("--config", metavar="FILE", type=Path, default=None,
                        help="read settings from FILE in libvirt's syntax (virtnetworkd.conf, "
                             "libvirtd.conf); options given here win over it")
    parser.add_argument("--timeout", metavar="SECONDS", type=_seconds, default=0,
                        help="exit after SECONDS with no client connected; 0 never "
                             "(default %(default)s); as virtnetworkd's, for socket activation")
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
    parser.add_argument("--socket-mode-admin", type=_octal, default=0o600, metavar="MODE",
                        help="mode of the admin socket (default 0600)")
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
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log debug messages (wins over the config's log_level)")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options, over the settings of ``--config FILE`` if given; exits
    with status 1 naming the file (and line) if that file cannot be used."""
    parser = _parser()
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", type=Path, default=None)
    # Settings read from the file become the namespace's values before the
    # command line is parsed, so every option given on it wins.
    namespace = argparse.Namespace(conf_warnings=[])
    path = config.parse_known_args(argv)[0].config
    if path is not None:
        try:
            conf = load_daemon_conf(path)
        except OSError as exc:
            parser.exit(1, f"rpcnetd: cannot start: cannot read {path}: {exc.strerror}\n")
        except ConfSyntaxError as exc:
            parser.exit(1, f"rpcnetd: cannot start: configuration file syntax error: {exc}\n")
        except ConfError as exc:
            parser.exit(1, f"rpcnetd: cannot start: {exc}\n")
        vars(namespace).update(conf.settings)
        namespace.conf_warnings = conf.unused_warnings()
    args = parser.parse_args(argv, namespace)
    if args.tls_allowed_dn is None:
        args.tls_allowed_dn = getattr(args, "conf_tls_allowed_dn", None)
    return args


def _seconds(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    return int(text)


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


def tls_credentials(args: argparse.Namespace) -> ServerCredentials:
    """``--pki DIR``'s files, else the config's ca_file, crl_file, cert_file
    and key_file, else libvirt's default paths."""
    if args.pki is not None:
        return ServerCredentials.from_dir(args.pki)
    files = {"ca_cert": "tls_ca_file", "ca_crl": "tls_crl_file",
             "cert": "tls_cert_file", "key": "tls_key_file"}
    given = {field: getattr(args, dest) for field, dest in files.items() if hasattr(args, dest)}
    return ServerCredentials(**given)


def tls_settings(args: argparse.Namespace) -> TlsListenerConfig:
    """What every TLS listener shares (its address left blank): for
    ``--tls`` and for a TLS socket systemd passes in."""
    return TlsListenerConfig(host="", credentials=tls_credentials(args),
                             allowed_dns=args.tls_allowed_dn,
                             handshake_timeout=args.tls_handshake_timeout)


def tls_listeners(args: argparse.Namespace) -> list[TlsListenerConfig]:
    """One TlsListenerConfig per ``--tls`` option."""
    shared = tls_settings(args)
    return [dataclasses.replace(shared, host=host, port=port) for host, port in args.tls]


def network_state_dir(config: ServerConfig) -> Path | None:
    """Where the network driver keeps its state (None: in memory only)."""
    if config.state_dir is not None:
        return config.state_dir / "network"
    return DEFAULT_HOST_STATE_DIR / "network" if config.driver == "host" else None


async def build_drivers(
    config: ServerConfig, tools: Tools | None = None
) -> dict[str, NetworkDriver]:
    """The drivers the daemon serves: ``network`` (the bridge driver's policy
    with the configured backend) and ``test`` (test:///default's policy, in
    memory). Each keeps its state under ``state_dir`` when one is configured."""
    from rpcnet.driver.service import open_memory

    network_state = network_state_dir(config)
    test_state = config.state_dir / "test" if config.state_dir else None
    network: NetworkDriver
    if network_state is not None and config.driver == "host":
        from rpcnet.driver.host.backend import open_host

        network = await open_host(network_state, tools)
    else:
        network = await open_memory("network", network_state)
    return {"network": network, "test": await open_memory("test", test_state)}


async def run(config: ServerConfig, tls: Sequence[TlsListenerConfig] = (),
              tools: Tools | None = None, *, activation: Activation | None = None,
              activated_tls: TlsListenerConfig | None = None,
              notifier: Notifier | None = None,
              metrics: tuple[str, int] | None = None) -> None:
    """Serve until told to stop: on the sockets of ``activation`` if given
    (``activated_tls`` for a TLS one), else on sockets of its own; Prometheus
    metrics on ``metrics`` (host, port) if given."""
    state = network_state_dir(config)
    if state is not None:
        lock_directory(state)  # held until the process ends; raises StateInUse
    # bound first: a metrics address that cannot be served stops the start
    # before any network is touched
    endpoint = _start_metrics(*metrics) if metrics is not None else None
    try:
        server = Server(config, await build_drivers(config, tools), activation=activation,
                        tls=activated_tls, notifier=notifier)
        serve_admin(server)
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


def log_settings(args: argparse.Namespace) -> logsetup.LogSettings:
    """``-v``, else the config's log_level (default: info); its filters and outputs."""
    level = 1 if args.verbose else getattr(args, "log_level", 2)
    default = logsetup.LogSettings()
    return logsetup.LogSettings(level=level,
                                filters=getattr(args, "log_filters", default.filters),
                                outputs=getattr(args, "log_outputs", None) or default.outputs)


def server_config(args: argparse.Namespace) -> ServerConfig:
    """The daemon's settings from the options (and the config file's)."""
    conf_only = {name: getattr(args, name) for name in _CONF_ONLY_SETTINGS if hasattr(args, name)}
    return ServerConfig(
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
        admin_socket_mode=args.socket_mode_admin,
        idle_timeout=args.timeout,
        **conf_only,
    )


#: ServerConfig fields only a config file sets
_CONF_ONLY_SETTINGS = ("max_queued_clients", "admin_max_clients", "admin_max_queued_clients",
                       "admin_max_client_requests", "admin_keepalive_interval",
                       "admin_keepalive_count")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["import-libvirt"]:
        from rpcnet.cli.import_libvirt import main as import_libvirt

        return import_libvirt(argv[1:])
    args = parse_args(argv)
    try:
        logsetup.apply(log_settings(args))
    except OSError as exc:
        print(f"rpcnetd: cannot start: cannot open a log output: {exc}", file=sys.stderr)
        return 1
    log = logging.getLogger("rpcnet.server")
    for warning in args.conf_warnings:
        log.warning("%s", warning)
    config = server_config(args)
    tls = tls_listeners(args)
    try:
        activation = activation_from_environment()
    except ActivationError as exc:
        log.error("cannot start: %s", exc)
        return 1
    if activation is not None and tls:
        log.error("cannot start: --tls is not permitted with systemd activation sockets "
                  "(pass a TLS socket named rpcnetd-tls.socket instead)")
        return 1
    if activation is not None:
        log.info("socket activation: %s", ", ".join(
            f"{name} (fd {fd})" for fd, name in activation.names.items()))
    serving = run(config, tls, Tools(dnsmasq=args.dnsmasq, nft=args.nft), activation=activation,
                  activated_tls=tls_settings(args), notifier=Notifier.from_environment(),
                  metrics=args.metrics)
    try:
        run_coroutine(serving)
    except (OSError, ssl.SSLError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
