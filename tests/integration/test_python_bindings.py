"""The libvirt Python bindings (Debian's python3-libvirt) against rpcnetd,
and against a real libvirtd where the semantics are the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.rpcnetd import RpcnetdPeer
from tests.peers.virsh import SYSTEM_PYTHON, run_client

pytestmark = pytest.mark.interop
SCRIPT = Path(__file__).parent / "scripts" / "network_api.py"


def run_api_script(uri: str, mode: str) -> dict[str, Any]:
    result = run_client([SYSTEM_PYTHON, str(SCRIPT), uri, mode], timeout=60, check=True)
    return json.loads(result.stdout)


def error(code: int, domain: int, message: str) -> list[Any]:
    return ["error", code, domain, message]


def test_network_driver_api(system_python: str, rpcnetd: RpcnetdPeer) -> None:
    r = run_api_script(rpcnetd.uri("network"), "network")
    assert r["type"] == "network"
    assert r["lib_version"] == 9000000
    assert r["is_secure"] == 1
    assert (r["num_active"], r["list_active"]) == (1, ["default"])
    assert (r["num_defined"], r["list_defined"]) == (0, [])
    assert r["list_all"] == ["default"]
    assert r["default_by_uuid"] == "default"
    assert (r["default_active"], r["default_persistent"], r["default_autostart"]) == (1, 1, True)
    assert r["default_bridge"] == "virbr0"
    assert "<ip address='192.168.122.1' netmask='255.255.255.0'>" in r["default_xml"]
    assert r["bad_flags"] == error(8, 19, "unsupported flags (0x100) in function networkGetXMLDesc")
    assert r["missing_name"] == error(
        43, 19, "Network not found: no network with matching name 'nosuchnet'")
    assert r["missing_uuid"] == error(43, 19, "Network not found: no network with matching "
                                              "uuid '00000000-0000-0000-0000-000000000001'")
    assert r["start_active"] == error(
        55, 19, "Requested operation is not valid: network is already active")
    assert r["define"] == "apinet"
    assert r["define_dup_name_other_uuid"] == error(
        9, 19, "operation failed: network 'apinet' already exists with uuid "
               "5e1c1a3a-8a61-4c8c-9d54-0d5f7b3b6c01")
    code, domain, message = r["define_malformed"][1:]
    assert (code, domain) == (35, 19) and "Premature end of data" in message
    assert r["new_inactive"] == 0
    assert r["autostart_after"] == 1
    assert r["list_autostart"] == ["apinet", "default"]
    assert r["list_inactive"] == ["apinet"]
    assert (r["create"], r["active_after_create"]) == (0, 1)
    assert r["destroy"] == 0
    assert r["destroy_inactive"] == error(
        55, 19, "Requested operation is not valid: network 'apinet' is not active")
    assert r["undefine"] == 0
    assert r["gone"][:3] == ["error", 43, 19]
    assert r["create_xml"] == "tnet"
    assert r["transient_persistent"] == 0
    assert r["transient_undefine"] == error(
        55, 19, "Requested operation is not valid: can't undefine transient network")
    assert r["transient_destroy"] == 0
    assert r["transient_gone"][:3] == ["error", 43, 19]
    assert r["leases"] == []
    assert r["define_flags_validate"][1:3] == [92, 5]
    assert r["update_add_host"] == 0
    assert r["update_wrong_section"][1:3] == [27, 19]
    assert r["xml_after_update"] is True
    assert r["ports_empty"] == 0
    assert r["port_create"] == "7d2a3f4e-1111-2222-3333-444455556666"
    assert r["ports_one"] == ["7d2a3f4e-1111-2222-3333-444455556666"]
    assert r["port_xml_has_mac"] is True
    assert r["port_set_params"] == 0
    assert r["port_params"]["inbound.average"] == 1000
    assert r["port_params"]["inbound.peak"] == 2000
    assert r["port_delete"] == 0
    assert r["ports_after_delete"] == 0


def test_test_driver_answers_like_libvirtd(
    system_python: str, rpcnetd: RpcnetdPeer, libvirtd: LibvirtdPeer
) -> None:
    ours = run_api_script(rpcnetd.uri("test"), "test")
    theirs = run_api_script(libvirtd.uri("test"), "test")
    assert ours == theirs


def test_events_and_keepalive(system_python: str, rpcnetd: RpcnetdPeer) -> None:
    script = Path(__file__).parent / "scripts" / "events.py"
    result = run_client([SYSTEM_PYTHON, str(script), rpcnetd.uri()], timeout=60, check=True)
    r = json.loads(result.stdout)
    assert r["alive"] == 1
    assert r["closed"] == []
    assert [e for e in r["events"] if e[0] == "all"] == [
        ["all", "pyev", 0, 0], ["all", "pyev", 2, 0], ["all", "pyev", 3, 0],
        ["all", "pyev", 1, 0]]
    assert [e for e in r["events"] if e[0] == "one"] == [
        ["one", "pyev", 2, 0], ["one", "pyev", 3, 0], ["one", "pyev", 1, 0]]


@pytest.mark.parametrize("driver", ["network", "test"])
def test_events_arrive_like_from_libvirtd(
    system_python: str, rpcnetd: RpcnetdPeer, libvirtd: LibvirtdPeer, driver: str
) -> None:
    script = str(Path(__file__).parent / "scripts" / "events.py")
    ours = run_client([SYSTEM_PYTHON, script, rpcnetd.uri(driver)], timeout=60, check=True)
    theirs = run_client([SYSTEM_PYTHON, script, libvirtd.uri(driver)], timeout=60, check=True)
    assert json.loads(ours.stdout) == json.loads(theirs.stdout)


def test_threads_sharing_one_connection(system_python: str, rpcnetd: RpcnetdPeer) -> None:
    script = Path(__file__).parent / "scripts" / "threads.py"
    result = run_client([SYSTEM_PYTHON, str(script), rpcnetd.uri()], timeout=120, check=True)
    assert result.stdout.strip() == "errors: 0 []"
