"""``rpcnetd --config FILE``: libvirt's daemon config keys (virtnetworkd.conf,
libvirtd.conf) mapped onto rpcnetd's settings.

:func:`load_daemon_conf` reads the file and returns the settings it makes,
keyed by the ``rpcnetd`` option's destination (``socket_dir``,
``max_clients``, ...), so the command line can override each one, plus the
statements rpcnetd does not use (warned about once each by the caller).
A key it uses with a value of the wrong type is an error, as in libvirt.

Authentication other than ``none`` and an access-control driver are
refused rather than ignored: serving a socket without the checks the file
asks for would let in whoever its permissions let in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rpcnet.libvirtconf import ConfEntry, ConfError, ConfFile, read_conf
from rpcnet.server import logsetup

__all__ = ["DaemonConf", "load_daemon_conf"]

Reader = Callable[[ConfFile, str], object]


def _path(conf: ConfFile, key: str) -> Path | None:
    value = conf.get_string(key)
    return None if value is None else Path(value)


def _mode(conf: ConfFile, key: str) -> int | None:
    value = conf.get_string(key)
    if value is None:
        return None
    try:
        return int(value, 8)
    except ValueError:
        raise ConfError(f"{conf.filename}: Failed to parse mode '{value}' "
                        f"for '{key}' parameter") from None


def _interval(conf: ConfFile, key: str) -> int | None:
    value = conf.get_int(key)
    return None if value is None else max(value, 0)  # libvirt: <= 0 sends no keepalive


def _log_level(conf: ConfFile, key: str) -> int | None:
    value = conf.get_uint(key)
    if value is not None and value not in logsetup.LEVELS:
        raise ConfError(f"{conf.filename}: '{key}' must be 1 (debug) to 4 (errors)")
    return value


def _parsed(parse: Callable[[str], object]) -> Reader:
    def read(conf: ConfFile, key: str) -> object:
        value = conf.get_string(key)
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise ConfError(f"{conf.filename}: '{key}': {exc}") from None
    return read


#: libvirt's key -> (rpcnetd's setting, how to read it)
SETTINGS: dict[str, tuple[str, Reader]] = {
    "unix_sock_dir": ("socket_dir", _path),
    "unix_sock_group": ("socket_group", ConfFile.get_string),
    "unix_sock_rw_perms": ("socket_mode", _mode),
    "unix_sock_ro_perms": ("socket_mode_ro", _mode),
    "unix_sock_admin_perms": ("socket_mode_admin", _mode),
    "max_clients": ("max_clients", ConfFile.get_uint),
    "max_queued_clients": ("max_queued_clients", ConfFile.get_uint),
    "max_anonymous_clients": ("max_anonymous_clients", ConfFile.get_uint),
    "max_client_requests": ("max_client_requests", ConfFile.get_uint),
    "keepalive_interval": ("keepalive_interval", _interval),
    "keepalive_count": ("keepalive_count", ConfFile.get_uint),
    "admin_max_clients": ("admin_max_clients", ConfFile.get_uint),
    "admin_max_queued_clients": ("admin_max_queued_clients", ConfFile.get_uint),
    "admin_max_client_requests": ("admin_max_client_requests", ConfFile.get_uint),
    "admin_keepalive_interval": ("admin_keepalive_interval", _interval),
    "admin_keepalive_count": ("admin_keepalive_count", ConfFile.get_uint),
    "ca_file": ("tls_ca_file", _path),
    "crl_file": ("tls_crl_file", _path),
    "cert_file": ("tls_cert_file", _path),
    "key_file": ("tls_key_file", _path),
    # an append option: rpcnetd.py lets --tls-allowed-dn replace it, not extend it
    "tls_allowed_dn_list": ("conf_tls_allowed_dn", ConfFile.get_string_list),
    "log_level": ("log_level", _log_level),
    "log_filters": ("log_filters", _parsed(logsetup.parse_filters)),
    "log_outputs": ("log_outputs", _parsed(logsetup.parse_outputs)),
}

#: keys whose only value rpcnetd can honour is "none"
AUTH_KEYS = ("auth_unix_rw", "auth_unix_ro", "auth_tls")


@dataclass(slots=True)
class DaemonConf:
    path: Path
    #: rpcnetd option destination -> value
    settings: dict[str, object] = field(default_factory=dict)
    #: the first statement of each key rpcnetd does not use
    unused: list[ConfEntry] = field(default_factory=list)

    def unused_warnings(self) -> list[str]:
        return [f"{self.path}:{entry.line}: '{entry.name}' is not used by rpcnetd; ignored"
                for entry in self.unused]


def load_daemon_conf(path: Path) -> DaemonConf:
    """Read ``path``; raises OSError, or ConfError (a ConfSyntaxError names
    the file and line) for a file rpcnetd must not start with."""
    conf = read_conf(path)
    result = DaemonConf(path)
    for key, (dest, read) in SETTINGS.items():
        value = read(conf, key)
        if value is not None:
            result.settings[dest] = value
    _refuse_checks_we_lack(conf)
    handled = set(SETTINGS) | set(AUTH_KEYS) | {"access_drivers"}
    result.unused = [entry for entry in conf.settings() if entry.name not in handled]
    return result


def _refuse_checks_we_lack(conf: ConfFile) -> None:
    for key in AUTH_KEYS:
        auth = conf.get_string(key)
        if auth not in (None, "none"):
            raise ConfError(f"{conf.filename}: {key}: unsupported auth {auth} "
                            f"(rpcnetd serves with authentication none only)")
    drivers = conf.get_string_list("access_drivers")
    if drivers and drivers != ["nop"]:
        raise ConfError(f"{conf.filename}: access_drivers: rpcnetd has no access control "
                        f"driver ({', '.join(drivers)}); only \"nop\" is possible")
