"""rpcnet.libvirtconf against libvirt's own parser.

virsh reads `$XDG_CONFIG_HOME/libvirt/libvirt.conf` (for a user other than
root) with the same parser the daemons use for their config files, and
reports a syntax error as `configuration file syntax error: FILE:LINE:
reason`. Each text below goes through both; the verdicts must be identical,
line numbers and reasons included.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpcnet.libvirtconf import ConfSyntaxError, parse_conf
from tests.peers.libvirt_samples import augeas_conf, every_key_set, sample
from tests.peers.requirements import need_executable
from tests.peers.virsh import VIRSH, run_client

pytestmark = pytest.mark.interop

NOBODY = 65534
CASES = [
    "",
    "\n",
    "# only a comment",
    "a = 1\n\n\n",
    "a = 1\nb 2\n",
    "a = \n",
    "a =",
    "a = x\n",
    "a = 1 2\n",
    "a = 1x\n",
    "1a = 2\n",
    "a = -\n",
    "a = +7; b = -0\n",
    'a = "open\n',
    "a = 'open\n",
    '\n\na = """never\nclosed\n',
    'a = """x"""',
    'a = """"""',
    'a = """\n\n""" b = 1\n',
    "a = [1 2]\n",
    "a = [1,\n# no comments in lists\n2]\n",
    "a = [1,\n2\n",
    "a = [1,\n2,\n]\n",
    "a = [\n]\n",
    "a = [[1, 'x'], []]\n",
    "a = [",
    "a-b = 1\n",
    "a = 1; ;\n",
    "a = 1;\n;b = 2\n",
    "a = 1 # c\r\nb = 2\r\n",
    "\ta\t=\t'x'\t#\n",
    "a = 1 ; b = 2 ; c = 3\n",
    "a = \"x\" 'y'\n",
    "a = \"C:\\\\x\"\n",
    "A_1 = 1\n_b = 2\n",
]


@pytest.fixture(scope="module")
def config_home() -> Iterator[Path]:
    need_executable(VIRSH)
    home = Path(tempfile.mkdtemp(prefix="rpcnet-conf-"))
    (home / "libvirt").mkdir()
    os.chmod(home, 0o755)
    os.chmod(home / "libvirt", 0o755)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def virsh_with_conf(home: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`virsh ARGS` reading ``text`` as its libvirt.conf (run as nobody when
    we are root: root's virsh reads /etc/libvirt/libvirt.conf instead)."""
    conf = home / "libvirt" / "libvirt.conf"
    conf.write_text(text)
    os.chmod(conf, 0o644)
    cmd = [VIRSH, *args]
    if os.geteuid() == 0:
        cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *cmd]
    env = ["-u", "LIBVIRT_DEFAULT_URI", f"HOME={home}", f"XDG_CONFIG_HOME={home}"]
    return run_client(["env", *env, *cmd])


def libvirt_verdict(home: Path, text: str) -> str | None:
    """What virsh (libvirt's parser) says of ``text``: None if it parses,
    else ``FILE:LINE: reason``."""
    result = virsh_with_conf(home, text, "-c", "test:///default", "uri")
    found = re.search(r"configuration file syntax error: (.*)", result.stderr)
    if found:
        return found.group(1)
    assert result.returncode == 0, result.stderr
    return None


def our_verdict(home: Path, text: str) -> str | None:
    try:
        parse_conf(text, str(home / "libvirt" / "libvirt.conf"))
    except ConfSyntaxError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("text", CASES)
def test_same_verdict_as_libvirt(config_home: Path, text: str) -> None:
    assert our_verdict(config_home, text) == libvirt_verdict(config_home, text)


def test_libvirts_own_samples_parse_in_both(config_home: Path) -> None:
    texts = [augeas_conf()]
    for name in ("libvirtd.conf", "virtnetworkd.conf"):
        shipped = sample(name).read_text()
        texts += [shipped, every_key_set(shipped)]
    for text in texts:
        assert libvirt_verdict(config_home, text) is None
        assert our_verdict(config_home, text) is None


@pytest.mark.parametrize("written", ['"test:///default"', "'test:///default'",
                                     '"""test:///default"""'])
def test_string_forms_read_alike(config_home: Path, written: str) -> None:
    """libvirt reads the default URI from the same string we read."""
    text = f"uri_default = {written}\n"
    result = virsh_with_conf(config_home, text, "uri")
    assert result.stdout.strip() == parse_conf(text).get_string("uri_default")
