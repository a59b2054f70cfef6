"""How fast a test gets a fresh daemon: ``python -m bench.ready``.

Times, for each kind of daemon the pytest plugin hands out, the span from
"give me a daemon" (the constructor) to "ready for connections" (a real
client's first call, AUTH_LIST, answered on its socket: ``answers_rpc``),
and the teardown (``close``), over ``--runs`` fresh daemons each:

- ``in-process``: ``rpcnet.testkit.InProcessDaemon``, the plugin's default;
- ``process``: ``rpcnet.testing.RpcnetdServer``, a child ``rpcnetd``
  (``--rpcnetd-process``), what the plugin gave every test before.

The first in-process daemon of a test run also pays for importing the
server and starting the kit's loop thread; ``first in a fresh process``
times that once, in a new interpreter. No root needed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from rpcnet.testkit import InProcessDaemon, RpcnetdServer
from rpcnet.testkit.process import answers_rpc

_FIRST = """
import time
start = time.perf_counter()
from rpcnet.testkit import InProcessDaemon
from rpcnet.testkit.process import answers_rpc
daemon = InProcessDaemon().start()
assert answers_rpc(daemon.socket)
print(time.perf_counter() - start)
daemon.close()
"""


def time_daemons(make: Callable[[], Any], runs: int) -> tuple[list[float], list[float]]:
    """Seconds to ready and seconds to close, per fresh daemon."""
    ready, close = [], []
    for _ in range(runs):
        start = time.perf_counter()
        daemon = make().start()
        if not answers_rpc(daemon.socket):
            raise RuntimeError(f"{type(daemon).__name__} started but does not answer")
        up = time.perf_counter()
        daemon.close()
        ready.append(up - start)
        close.append(time.perf_counter() - up)
    return ready, close


def first_in_fresh_process() -> float:
    out = subprocess.run([sys.executable, "-c", _FIRST], capture_output=True, text=True,
                         check=True).stdout
    return float(out)


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (f"median {statistics.median(values) * 1e3:8.2f} ms   p90 {p90 * 1e3:8.2f} ms   "
            f"min {ordered[0] * 1e3:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="in-process daemons timed")
    parser.add_argument("--process-runs", type=int, default=20, help="child processes timed")
    args = parser.parse_args()
    InProcessDaemon().start().close()  # imports and the loop thread: paid once per test run
    for kind, make, runs in (("in-process", InProcessDaemon, args.runs),
                             ("process", RpcnetdServer, args.process_runs)):
        ready, close = time_daemons(make, runs)
        print(f"{kind + ' ready':28s} {_ms(ready)}   ({runs} daemons)")
        print(f"{kind + ' close':28s} {_ms(close)}")
    print(f"{'first in a fresh process':28s} {first_in_fresh_process() * 1e3:8.2f} ms "
          "(imports, loop thread, daemon)")


if __name__ == "__main__":
    main()
