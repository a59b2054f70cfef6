"""Load generator on rpcnet's async client, in its own process.

The same protocol as ``bindings_load.py``: open ``--threads`` connections
(one task each), print ``ready``, wait for a line on stdin, run the
workload, print one JSON line with the calls and latencies of the window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from .load import close_all, open_many, run_workers


async def _main(args: argparse.Namespace) -> None:
    drivers = await open_many(args.uri, args.threads)
    try:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        sample = await run_workers(drivers, args.workload, args.warmup, args.duration)
    finally:
        await close_all(drivers)
    print(json.dumps({"calls": sample.calls, "seconds": sample.seconds,
                      "latencies_us": list(sample.latencies_us)}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uri", required=True)
    parser.add_argument("--threads", type=int, default=1, help="connections (tasks)")
    parser.add_argument("--workload", default="lookup")
    parser.add_argument("--warmup", type=float, default=0.2)
    parser.add_argument("--duration", type=float, default=1.0)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(_main(args))
    else:
        uvloop.run(_main(args))


if __name__ == "__main__":
    main()
