"""rpcnetd --config FILE as a process: libvirt's keys applied, the command
line winning, unused keys warned about once, a broken file refused."""

from __future__ import annotations

import grp
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpcnet.testing import stop_process, wait_until_serving
from tests.peers.virsh import virsh


@pytest.fixture
def sockdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # short: a UNIX socket path has at most 107 bytes
    return tmp_path_factory.mktemp("cf") / "s"


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        stop_process(proc)


def start(procs: list[subprocess.Popen[bytes]], *args: str,
          stderr: Path) -> subprocess.Popen[bytes]:
    with stderr.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "rpcnet", *args],
                                stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT)
    procs.append(proc)
    return proc


def test_config_keys_apply_and_the_command_line_wins(
        tmp_path: Path, sockdir: Path, spawn: list[subprocess.Popen[bytes]],
        virsh_bin: str) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    log = tmp_path / "daemon.log"
    conf = tmp_path / "virtnetworkd.conf"
    conf.write_text(f"""# as an operator would write it
unix_sock_dir = "{sockdir}"
unix_sock_group = "{group}"
unix_sock_rw_perms = "0660"
unix_sock_ro_perms = "0644"
max_clients = 1
log_level = 2
log_outputs = "2:file:{log}"
min_workers = 1
min_workers = 2
""")
    stderr = tmp_path / "stderr"
    proc = start(spawn, "--config", str(conf), "--socket-mode-ro", "0666", stderr=stderr)
    rw, ro = sockdir / "rpcnet-sock", sockdir / "rpcnet-sock-ro"
    wait_until_serving(proc, rw, 20, log.read_text)
    assert stat.S_IMODE(rw.stat().st_mode) == 0o660
    assert rw.stat().st_gid == grp.getgrnam(group).gr_gid
    assert stat.S_IMODE(ro.stat().st_mode) == 0o666  # the command line's
    # max_clients = 1: with one client connected a second is refused
    with socket.socket(socket.AF_UNIX) as first:
        first.connect(str(rw))
        res = virsh(f"network+unix:///system?socket={rw}", "net-list", "--name")
    assert res.returncode != 0 and "Too many active clients (1)" in res.stderr
    stop_process(proc)
    text = log.read_text()
    assert text.count("'min_workers' is not used by rpcnetd; ignored") == 1
    assert f"{conf}:9: 'min_workers'" in text
    assert "listening on" in text
    assert stderr.read_text() == ""  # the file output replaces stderr


def test_a_syntax_error_names_file_and_line_and_nothing_starts(
        tmp_path: Path, sockdir: Path, spawn: list[subprocess.Popen[bytes]]) -> None:
    conf = tmp_path / "virtnetworkd.conf"
    conf.write_text(f'unix_sock_dir = "{sockdir}"\n\nmax_clients = [1\n')
    stderr = tmp_path / "stderr"
    proc = start(spawn, "--config", str(conf), stderr=stderr)
    assert proc.wait(timeout=30) == 1
    assert stderr.read_text() == (f"rpcnetd: cannot start: configuration file syntax error: "
                                  f"{conf}:4: list is not closed with ]\n")
    assert not sockdir.exists()


def test_a_type_error_stops_it_too(tmp_path: Path, sockdir: Path,
                                   spawn: list[subprocess.Popen[bytes]]) -> None:
    conf = tmp_path / "libvirtd.conf"
    conf.write_text(f'unix_sock_dir = "{sockdir}"\nmax_clients = "5"\n')
    stderr = tmp_path / "stderr"
    proc = start(spawn, "--config", str(conf), stderr=stderr)
    assert proc.wait(timeout=30) == 1
    assert f"{conf}: expected an unsigned integer for 'max_clients'" in stderr.read_text()
    assert not sockdir.exists()
