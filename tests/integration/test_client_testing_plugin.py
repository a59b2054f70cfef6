"""The rpcnet.testing pytest plugin, used as a project would: a separate
pytest run that gets it through its entry point, its options, and the
README's examples with the libvirt Python bindings run verbatim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import rpcnet.testing
from rpcnet.client.blocking import connect
from rpcnet.testing import RpcnetdServer
from rpcnet.testkit import InProcessDaemon
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
    pytester.makepyfile(test_project=PROJECT_TESTS + IN_PROCESS_CHECK)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)


IN_PROCESS_CHECK = '''

def test_where_the_daemon_runs(rpcnetd_server, request):
    import os
    in_process = type(rpcnetd_server).__name__ == "InProcessDaemon"
    config = request.config
    if config.getoption("rpcnetd_process") or config.getini("rpcnetd_process"):
        assert not in_process and rpcnetd_server.proc.pid != os.getpid()
    else:
        assert in_process
'''

FAULTS_NEED_IN_PROCESS = '''
def test_faults(rpcnetd_faults):
    pass
'''


def test_plugin_fixtures_with_child_processes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_project=PROJECT_TESTS + IN_PROCESS_CHECK,
                        test_faults=FAULTS_NEED_IN_PROCESS)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "--rpcnetd-process")
    result.assert_outcomes(passed=6, errors=1)
    result.stdout.fnmatch_lines(["*rpcnetd_faults needs the in-process daemon; drop "
                                 "--rpcnetd-process*"])
    pytester.makeini("[pytest]\nrpcnetd_process = true\n")
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "test_project.py")
    result.assert_outcomes(passed=6)


def test_pcap_option_writes_one_file_per_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_pcap='''
from rpcnet.client.blocking import connect


def test_one(rpcnetd_uri):
    with connect(rpcnetd_uri) as conn:
        conn.connect_get_type()
''')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider",
                                          "--rpcnetd-pcap", "pcaps")
    result.assert_outcomes(passed=1)
    (pcap,) = (pytester.path / "pcaps").iterdir()
    assert pcap.name == "test_pcap.py__test_one.pcap"
    assert pcap.read_bytes()[:4] == bytes.fromhex("d4c3b2a1")  # libpcap, little-endian


def readme_example(section: str, name: str) -> str:
    text = README.read_text()
    part = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(rf"```python\n(# {name}\n.*?)```", part, re.S)
    assert match, f"README lost its example {name}"
    return match.group(1)


@pytest.mark.parametrize(("section", "name", "tests"), [
    ("Testing your libvirt client against rpcnetd", "test_netclient.py", 2),
    ("Testing your client's error handling", "test_error_handling.py", 6),
])
def test_readme_examples_with_libvirt_bindings(pytester: pytest.Pytester, system_python: str,
                                               section: str, name: str, tests: int) -> None:
    # The venv stands in for one made with --system-site-packages: it sees
    # Debian's libvirt bindings after its own packages.
    where = run_python("import libvirt, os; print(os.path.dirname(libvirt.__file__))")
    pytester.makeconftest(f"import sys\nsys.path.append({where.stdout.strip()!r})\n")
    pytester.makepyfile(**{name.removesuffix(".py"): readme_example(section, name)})
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=tests)


def test_readme_and_docstring_list_every_fixture_and_option() -> None:
    source = Path(rpcnet.testing.__file__).read_text()
    fixtures = re.findall(r"@pytest\.fixture(?:\(.*?\))?\ndef (\w+)", source)
    options = re.findall(r'addoption\("(--[\w-]+)"', source)
    inis = re.findall(r'addini\("(\w+)"', source)
    assert len(fixtures) == 9 and options == ["--rpcnetd-process", "--rpcnetd-pcap"]
    readme = README.read_text()
    doc = rpcnet.testing.__doc__ or ""
    for name in fixtures + options + inis:
        assert f"`{name}" in readme, f"README does not list {name}"
        assert f"``{name}" in doc, f"the plugin's docstring does not list {name}"


@pytest.mark.parametrize("kind", [RpcnetdServer, InProcessDaemon])
def test_servers_outside_pytest(kind: type[RpcnetdServer | InProcessDaemon]) -> None:
    with kind() as server:
        assert server.socket.exists() and server.socket_ro.exists()
        with connect(server.uri("test")) as conn:
            assert conn.connect_get_type() == "TEST"
        server.stop()
        assert not server.socket.exists()
    assert not server.dir.exists()
