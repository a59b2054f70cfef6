"""The systemd units in contrib/systemd: `systemd-analyze verify` accepts
them, alone and with each set of drop-ins, without a single warning; and
the daemon accepts the command line they start it with.

verify also checks that ExecStart's program exists: the units name
/usr/local/bin/rpcnetd (where `pip install` as root puts it), so the check
runs in a private mount namespace where that path is this checkout's
rpcnetd; nothing outside the namespace changes.
"""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rpcnet.cli.rpcnetd import parse_args
from tests.peers.requirements import need_executable, need_root

UNITS = Path(__file__).resolve().parents[2] / "contrib" / "systemd"
BASE = ["rpcnetd.service", "rpcnetd.socket", "rpcnetd-ro.socket", "rpcnetd-admin.socket"]
INSTALLED_AT = "/usr/local/bin/rpcnetd"


def verify(unit_dir: Path) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify` on the base units in ``unit_dir`` (with any
    drop-in directories beside them), rpcnetd present at INSTALLED_AT."""
    need_root()
    analyze = need_executable("systemd-analyze")
    rpcnetd = Path(sys.executable).parent / "rpcnetd"
    assert rpcnetd.exists(), rpcnetd
    script = (f"mount -t tmpfs rpcnet-units {shlex.quote(str(Path(INSTALLED_AT).parent))} && "
              f"ln -s {shlex.quote(str(rpcnetd))} {INSTALLED_AT} && "
              f"exec {analyze} verify --man=no " + " ".join(
                  shlex.quote(str(unit_dir / unit)) for unit in BASE))
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=60)


def assemble(tmp_path: Path, *drop_in_sets: str) -> Path:
    """The base units plus the drop-in directories of each named set."""
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    for unit in BASE:
        shutil.copy(UNITS / unit, unit_dir / unit)
    for name in drop_in_sets:
        shutil.copytree(UNITS / name, unit_dir, dirs_exist_ok=True)
    return unit_dir


@pytest.mark.parametrize("drop_ins", [(), ("virtnetworkd-names",), ("group",),
                                      ("virtnetworkd-names", "group")])
def test_systemd_analyze_verify_is_silent(tmp_path: Path, drop_ins: tuple[str, ...]) -> None:
    result = verify(assemble(tmp_path, *drop_ins))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_verify_reads_the_drop_ins(tmp_path: Path) -> None:
    """The control: a mistake in a drop-in beside the units is reported."""
    unit_dir = assemble(tmp_path, "virtnetworkd-names")
    conf = unit_dir / "rpcnetd.socket.d" / "50-virtnetworkd-names.conf"
    conf.write_text(conf.read_text() + "ListenSteam=/typo\n")
    result = verify(unit_dir)
    assert "Unknown key 'ListenSteam' in section [Socket]" in result.stderr


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name)
    return parser


def test_what_the_units_promise() -> None:
    service = unit("rpcnetd.service")["Service"]
    assert service["Type"] == "notify"
    assert service["KillMode"] == "process"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    sockets = {name: unit(name)["Socket"] for name in BASE[1:]}
    assert {name: (s["ListenStream"], s["SocketMode"], s["RemoveOnStop"])
            for name, s in sockets.items()} == {
        "rpcnetd.socket": ("/run/rpcnet/rpcnet-sock", "0600", "yes"),
        "rpcnetd-ro.socket": ("/run/rpcnet/rpcnet-sock-ro", "0666", "yes"),
        "rpcnetd-admin.socket": ("/run/rpcnet/rpcnet-admin-sock", "0600", "yes"),
    }
    assert unit("rpcnetd-admin.socket")["Unit"]["BindsTo"] == "rpcnetd.socket"
    group = configparser.ConfigParser(interpolation=None)
    group.read(UNITS / "group" / "rpcnetd.socket.d" / "50-group.conf")
    assert group["Socket"]["SocketMode"] == "0660"


def test_the_daemon_accepts_the_services_command_line() -> None:
    service = unit("rpcnetd.service")["Service"]
    default_args = service["Environment"].removeprefix('RPCNETD_ARGS="').removesuffix('"')
    argv = shlex.split(service["ExecStart"].replace("$RPCNETD_ARGS", default_args))
    assert argv[0] == INSTALLED_AT
    args = parse_args(argv[1:])
    assert (args.driver, args.timeout) == ("host", 120)
