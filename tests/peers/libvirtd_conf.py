"""libvirtd.conf rendering for the isolated test peer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ConfValue = str | int | bool | Sequence[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsConfig:
    """What libvirtd needs to listen for TLS (it then also runs with --listen).

    `allowed_dn_list=None` leaves the option out (any DN is allowed); an empty
    list means no client may connect (libvirtd.conf semantics).
    """

    cert_file: Path
    key_file: Path
    ca_file: Path
    crl_file: Path | None = None
    port: int = 16514
    listen_addr: str = "127.0.0.1"
    allowed_dn_list: Sequence[str] | None = None


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_value(value: ConfValue) -> str:
    """One value in libvirt's config syntax (strings quoted, lists bracketed)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _quote(value)
    return "[" + ", ".join(_quote(v) for v in value) + "]"


def tls_settings(tls: TlsConfig) -> dict[str, ConfValue]:
    settings: dict[str, ConfValue] = {
        "listen_tls": True,
        "tls_port": str(tls.port),
        "listen_addr": tls.listen_addr,
        "auth_tls": "none",
        "cert_file": str(tls.cert_file),
        "key_file": str(tls.key_file),
        "ca_file": str(tls.ca_file),
    }
    if tls.crl_file is not None:
        settings["crl_file"] = str(tls.crl_file)
    if tls.allowed_dn_list is not None:
        settings["tls_allowed_dn_list"] = list(tls.allowed_dn_list)
    return settings


def render(
    *,
    sock_dir: Path,
    log_path: Path,
    log_level: int = 3,
    tls: TlsConfig | None = None,
    extra: Mapping[str, ConfValue] | None = None,
) -> str:
    """The text of a libvirtd.conf for one isolated peer."""
    settings: dict[str, ConfValue] = {
        "unix_sock_dir": str(sock_dir),
        "unix_sock_group": "root",
        "unix_sock_rw_perms": "0770",
        "unix_sock_ro_perms": "0777",
        "unix_sock_admin_perms": "0700",
        "auth_unix_rw": "none",
        "auth_unix_ro": "none",
        "listen_tcp": False,
        "listen_tls": False,
        "log_outputs": f"{log_level}:file:{log_path}",
    }
    if tls is not None:
        settings.update(tls_settings(tls))
    settings.update(extra or {})
    return "".join(f"{key} = {format_value(value)}\n" for key, value in settings.items())
