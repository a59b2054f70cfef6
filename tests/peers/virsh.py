"""Run real libvirt clients: `virsh` and the system Python's libvirt bindings.

Both helpers return the CompletedProcess (text, LC_ALL=C) and never raise on
a non-zero exit unless asked; `netns` runs the client inside a named network
namespace (for TCP/TLS peers that listen there).
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from tests.peers.netns import IP

VIRSH = "/usr/bin/virsh"
SYSTEM_PYTHON = "/usr/bin/python3"
DEFAULT_TIMEOUT = 30.0


class ClientError(AssertionError):
    """A client command failed; the message carries its exit code and output."""

    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(
            f"{result.args!r} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
        self.result = result


def run_client(
    args: list[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = False,
    input: str | None = None,
    netns: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a client program with LC_ALL=C and text I/O; raise ClientError if `check`."""
    if netns is not None:
        args = [IP, "netns", "exec", netns, *args]
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, input=input, env=env
    )
    if check and result.returncode != 0:
        raise ClientError(result)
    return result


def virsh(
    uri: str,
    *cmd: str,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = False,
    netns: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`virsh -c URI cmd...`."""
    return run_client([VIRSH, "-c", uri, *cmd], timeout=timeout, check=check, netns=netns)


def run_python(
    code: str,
    *argv: str,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    netns: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `code` under /usr/bin/python3 (which has `import libvirt`); argv in sys.argv[1:]."""
    return run_client([SYSTEM_PYTHON, "-c", code, *argv], timeout=timeout, check=check, netns=netns)


def python_json(
    code: str, *argv: str, timeout: float = DEFAULT_TIMEOUT, netns: str | None = None
) -> Any:
    """Run `code` like run_python and parse what it printed as JSON."""
    out = run_python(code, *argv, timeout=timeout, netns=netns).stdout
    try:
        return json.loads(out)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"snippet printed no JSON: {out!r}") from exc
