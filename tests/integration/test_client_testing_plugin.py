"""The rpcnet.testing pytest plugin, used as a project would: a separate
pytest run that gets it through its entry point, and the README's example
with the libvirt Python bindings run verbatim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rpcnet.client.blocking import connect
from rpcnet.testing import RpcnetdServer
from tests.peers.virsh import run_python

pytest_plugins = ("pytester",)
README = Path(__file__).parents[2] / "README.md"

PROJECT_TESTS = '''
from rpcnet.client.blocking import connect
from rpcnet.errors import VirError


def test_network_uri(rpcnetd_uri):
    with connect(rpcnetd_uri) as conn:
        assert [n.name for n in conn.connect_list_all_networks(0)] == ["default"]
        conn.network_define_xml("<network><name>mine</name></network>")


def test_each_test_gets_a_fresh_daemon(rpcnetd_uri):
    with connect(rpcnetd_uri) as conn:
        assert [n.name for n in conn.connect_list_all_networks(0)] == ["default"]


def test_test_driver(rpcnetd_test_uri, rpcnetd_test_ro_uri):
    with connect(rpcnetd_test_uri) as conn:
        assert conn.connect_get_type() == "TEST"
    with connect(rpcnetd_test_ro_uri, readonly=True) as ro:
        assert ro.connect_get_type() == "TEST"


def test_read_only(rpcnetd_ro_uri):
    with connect(rpcnetd_ro_uri, readonly=True) as conn:
        try:
            conn.network_define_xml("<network><name>x</name></network>")
        except VirError as exc:
            assert exc.code == 29
        else:
            raise AssertionError("a read-only connection defined a network")


def test_restart(rpcnetd_server):
    rpcnetd_server.restart()
    with connect(rpcnetd_server.uri()) as conn:
        assert conn.connect_get_type() == "network"
'''


def test_plugin_fixtures_in_a_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_project=PROJECT_TESTS)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def readme_example() -> str:
    text = README.read_text()
    section = text.split("## Testing your libvirt client against rpcnetd", 1)[1]
    match = re.search(r"```python\n(# test_netclient.py\n.*?)```", section, re.S)
    assert match, "README lost its test example"
    return match.group(1)


def test_readme_example_with_libvirt_bindings(pytester: pytest.Pytester,
                                              system_python: str) -> None:
    # The venv stands in for one made with --system-site-packages: it sees
    # Debian's libvirt bindings after its own packages.
    where = run_python("import libvirt, os; print(os.path.dirname(libvirt.__file__))")
    pytester.makeconftest(f"import sys\nsys.path.append({where.stdout.strip()!r})\n")
    pytester.makepyfile(test_netclient=readme_example())
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_server_outside_pytest() -> None:
    with RpcnetdServer() as server:
        assert server.socket.exists() and server.socket_ro.exists()
        with connect(server.uri("test")) as conn:
            assert conn.connect_get_type() == "TEST"
        assert server.stop() == 0
    assert not server.dir.exists()
