"""libvirt's QEMU driver as a client, replayed: its whole sequence of network
calls (tests/integration/scripts/qemu_driver.py, through the Python
bindings) against a daemon's socket, with every reply frame recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rpcnet.protocol import remote
from rpcnet.protocol.message import HEADER_SIZE, LENGTH_SIZE, Status
from tests.peers.recorder import Recorder, replies
from tests.peers.virsh import SYSTEM_PYTHON, run_client

SCRIPT = Path(__file__).parents[1] / "integration" / "scripts" / "qemu_driver.py"
PORT = "f5e2a4b0-1c3d-4e5f-8a9b-0c1d2e3f4a01"


def replay_qemu_driver(socket: str) -> tuple[dict[str, Any], list[bytes]]:
    """What the QEMU driver's calls got from the daemon on ``socket``: the
    script's results, and every reply frame as sent (lists in one order)."""
    with Recorder(socket) as recorder:
        uri = f"network+unix:///system?socket={recorder.path}"
        result = run_client([SYSTEM_PYTHON, str(SCRIPT), uri], timeout=120, check=True)
        frames = [in_one_order(frame) for frame in replies(recorder.frames)]
    return json.loads(result.stdout), frames


#: lists libvirtd returns in its hash tables' order, which is random per process
_LISTS = {remote.BY_NAME[name] for name in ("NETWORK_LIST_ALL_PORTS", "CONNECT_LIST_ALL_NETWORKS")}


def in_one_order(frame: bytes) -> bytes:
    """``frame`` with the items of a successful list reply sorted."""
    start = LENGTH_SIZE + HEADER_SIZE
    procedure = remote.BY_NUMBER.get(int.from_bytes(frame[12:16], "big"))
    status = int.from_bytes(frame[start - 4:start], "big")
    if procedure not in _LISTS or status != Status.OK:
        return frame
    items, count = procedure.ret.decode(frame[start:])
    items = sorted(items, key=repr)
    return frame[:start] + procedure.ret.encode((items, count))


def check_the_sequence_ran(results: dict[str, Any]) -> None:
    """The replay got where it should (so equal answers are not equal failures)."""
    assert results["set_identity"] == 0
    assert results["port_create"] == PORT == results["reclaim"]
    assert "<plug type='network' bridge='rpcqemu0'/>" in results["port_xml"]
    assert results["port_params"]["inbound.average"] == 1000  # the portgroup's
    assert results["port_params_after"]["inbound.average"] == 3000
    for refusal in ("dup_uuid", "plug_without_reclaim", "reclaim_without_plug",
                    "virtualport_on_nat", "inactive_network", "gone"):
        assert results[refusal][0] == "error", refusal


def assert_answered_alike(ours: str, theirs: str) -> dict[str, Any]:
    """Replay on the daemon sockets ``ours`` and ``theirs`` (libvirtd's);
    the answers must be the same, byte for byte. Returns our results."""
    our_results, our_frames = replay_qemu_driver(ours)
    their_results, their_frames = replay_qemu_driver(theirs)
    check_the_sequence_ran(our_results)
    assert our_results == their_results
    assert len(our_frames) > 30 and our_frames == their_frames
    return our_results
