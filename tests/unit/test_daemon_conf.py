"""rpcnetd --config: libvirt's keys onto rpcnetd's settings; the command line wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpcnet.cli.daemon_conf import load_daemon_conf
from rpcnet.cli.rpcnetd import log_settings, parse_args, server_config, tls_credentials
from rpcnet.libvirtconf import ConfError, ConfSyntaxError
from rpcnet.server.logsetup import Destination, LogFilter, LogOutput
from rpcnet.server.tls import ServerCredentials
from tests.peers.libvirt_samples import augeas_conf, every_key_set, sample

FULL = """
unix_sock_dir = "/run/test-libvirt"
unix_sock_group = "kvm"
unix_sock_rw_perms = "0660"
unix_sock_ro_perms = "0644"
unix_sock_admin_perms = "0640"
auth_unix_rw = "none"
auth_unix_ro = "none"
access_drivers = [ "nop" ]
max_clients = 50
max_queued_clients = 40
max_anonymous_clients = 3
max_client_requests = 9
keepalive_interval = -1
keepalive_count = 7
admin_max_clients = 4
admin_max_queued_clients = 6
admin_max_client_requests = 2
admin_keepalive_interval = 11
admin_keepalive_count = 12
ca_file = "/pki/ca.pem"
crl_file = "/pki/crl.pem"
cert_file = "/pki/cert.pem"
key_file = "/pki/key.pem"
tls_allowed_dn_list = ["C=GB,O=A,CN=*", "C=GB,O=B,CN=x"]
log_level = 4
log_filters = "1:server 3:+dnsmasq"
log_outputs = "3:stderr 1:file:/var/log/rpcnetd.log"
min_workers = 5
min_workers = 6
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rpcnetd.conf"
    path.write_text(text)
    return path


def test_every_key_that_applies(tmp_path: Path) -> None:
    args = parse_args(["--config", str(write(tmp_path, FULL))])
    config = server_config(args)
    assert (config.socket_dir, config.socket_group) == (Path("/run/test-libvirt"), "kvm")
    assert (config.rw_socket_mode, config.ro_socket_mode, config.admin_socket_mode) == (
        0o660, 0o644, 0o640)
    assert (config.max_clients, config.max_queued_clients, config.max_anonymous_clients,
            config.max_client_requests) == (50, 40, 3, 9)
    assert (config.keepalive_interval, config.keepalive_count) == (0, 7)
    assert (config.admin_max_clients, config.admin_max_queued_clients,
            config.admin_max_client_requests, config.admin_keepalive_interval,
            config.admin_keepalive_count) == (4, 6, 2, 11, 12)
    assert tls_credentials(args) == ServerCredentials(
        ca_cert=Path("/pki/ca.pem"), ca_crl=Path("/pki/crl.pem"),
        cert=Path("/pki/cert.pem"), key=Path("/pki/key.pem"))
    assert args.tls_allowed_dn == ["C=GB,O=A,CN=*", "C=GB,O=B,CN=x"]
    logs = log_settings(args)
    assert logs.level == 4
    assert logs.filters == (LogFilter(1, "server"), LogFilter(3, "dnsmasq"))
    assert logs.outputs == (LogOutput(3, Destination.STDERR),
                            LogOutput(1, Destination.FILE, "/var/log/rpcnetd.log"))


def test_an_unused_key_is_warned_about_once(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    args = parse_args(["--config", str(path)])
    assert args.conf_warnings == [f"{path}:29: 'min_workers' is not used by rpcnetd; ignored"]


def test_the_command_line_wins(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    args = parse_args(["--config", str(path), "--socket-dir", "/tmp/cli", "--max-clients", "5000",
                       "--socket-mode", "0600", "--keepalive-interval", "5",
                       "--tls-allowed-dn", "C=US,*", "--pki", "/cli-pki", "-v"])
    config = server_config(args)
    assert config.socket_dir == Path("/tmp/cli")
    assert config.max_clients == 5000  # even when given as the default value
    assert config.rw_socket_mode == 0o600
    assert config.keepalive_interval == 5
    assert config.ro_socket_mode == 0o644  # not given: the file's
    assert args.tls_allowed_dn == ["C=US,*"]  # replaced, not extended
    assert tls_credentials(args) == ServerCredentials.from_dir(Path("/cli-pki"))
    assert log_settings(args).level == 1


def test_without_a_config_the_defaults_stay() -> None:
    args = parse_args([])
    assert args.conf_warnings == []
    assert args.tls_allowed_dn is None
    assert tls_credentials(args) == ServerCredentials()
    assert server_config(args).max_queued_clients == 1024
    assert log_settings(args).level == 2


@pytest.mark.parametrize(("text", "message"), [
    ('max_clients = "many"\n', "expected an unsigned integer for 'max_clients' parameter"),
    ("max_clients = -1\n", "expected an unsigned integer for 'max_clients' parameter"),
    ("unix_sock_dir = 1\n", "expected a string for 'unix_sock_dir' parameter"),
    ('tls_allowed_dn_list = "x"\n', "expected a string list for 'tls_allowed_dn_list'"),
    ('unix_sock_rw_perms = "rw"\n', "Failed to parse mode 'rw'"),
    ("log_level = 5\n", "'log_level' must be 1 (debug) to 4 (errors)"),
    ('log_outputs = "1:tty"\n', "Invalid log destination 'tty' for log output '1:tty'"),
    ('log_filters = "9:x"\n', "Invalid priority '9' for filter '9:x'"),
    ('auth_unix_rw = "polkit"\n', "auth_unix_rw: unsupported auth polkit"),
    ('auth_unix_ro = "sasl"\n', "auth_unix_ro: unsupported auth sasl"),
    ('access_drivers = ["polkit"]\n', "access_drivers: rpcnetd has no access control driver"),
])
def test_values_rpcnetd_must_not_start_with(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfError) as info:
        load_daemon_conf(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_syntax_errors_stop_rpcnetd_naming_file_and_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "max_clients = 5\nmax_anonymous_clients = \n")
    with pytest.raises(ConfSyntaxError):
        load_daemon_conf(path)
    with pytest.raises(SystemExit) as info:
        parse_args(["--config", str(path)])
    assert info.value.code == 1
    assert capsys.readouterr().err == (
        f"rpcnetd: cannot start: configuration file syntax error: {path}:2: expecting a value\n")


def test_a_missing_file_stops_rpcnetd(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_args(["--config", str(tmp_path / "nope.conf")])
    assert info.value.code == 1
    assert "No such file or directory" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["libvirtd.conf", "virtnetworkd.conf"])
def test_libvirts_shipped_file_is_a_valid_config(tmp_path: Path, name: str) -> None:
    """As shipped: nothing set. Every setting active: refused only for its
    polkit auth and access driver (the lines libvirt ships as examples)."""
    assert load_daemon_conf(sample(name)).settings == {}
    active = every_key_set(sample(name).read_text())
    with pytest.raises(ConfError, match="unsupported auth polkit"):
        load_daemon_conf(write(tmp_path, active))
    usable = "\n".join(line for line in active.splitlines()
                       if not line.startswith(("auth_", "access_drivers")))
    conf = load_daemon_conf(write(tmp_path, usable))
    assert conf.settings["socket_dir"] == Path("/run/libvirt")
    assert conf.settings["socket_group"] == "libvirt"
    unused = {entry.name for entry in conf.unused}
    assert {"min_workers", "max_workers", "audit_level", "host_uuid"} <= unused
    assert not unused & {"max_clients", "keepalive_interval", "log_outputs"}


def test_libvirtd_augeas_config_without_its_polkit_lines(tmp_path: Path) -> None:
    usable = "\n".join(line for line in augeas_conf().splitlines()
                       if "polkit" not in line and not line.startswith("auth_tcp"))
    args = parse_args(["--config", str(write(tmp_path, usable))])
    assert args.tls_allowed_dn == ["DN1", "DN2"]
    assert tls_credentials(args).cert == Path("/etc/pki/libvirt/servercert.pem")
    assert log_settings(args).outputs == (LogOutput(3, Destination.SYSLOG, "libvirtd"),)
